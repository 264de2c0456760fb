import Foundation

/// Cuts a byte stream into newline-terminated lines (a watch sends one JSON
/// event per line). Bytes arrive in arbitrary pieces: an event may be split
/// across reads, or many may share one read, and one may be megabytes long.
public struct LineSplitter: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private var scanned = 0
    /// A line longer than this is an error rather than unbounded growth.
    public let maxLineLength: Int

    public struct LineTooLong: Error, CustomStringConvertible {
        public let limit: Int
        public var description: String { "a watch event exceeded \(limit) bytes" }
    }

    /// 16 MiB: an object is at most about 1.5 MiB in etcd, so a longer line is not an event.
    public init(maxLineLength: Int = 16 << 20) {
        self.maxLineLength = maxLineLength
    }

    public mutating func append(_ data: Data) {
        if start > 0, start >= buffer.count / 2 {
            buffer.removeFirst(start)
            scanned -= start
            start = 0
        }
        buffer.append(contentsOf: data)
    }

    /// The next complete line without its newline, or nil until more bytes arrive.
    public mutating func nextLine() throws -> Data? {
        while true {
            let found: Int? = buffer.withUnsafeBufferPointer { buf in
                guard scanned < buf.count, let base = buf.baseAddress else { return nil }
                guard let hit = memchr(base + scanned, 0x0A, buf.count - scanned) else { return nil }
                return base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
            }
            guard let newline = found else {
                scanned = buffer.count
                if buffer.count - start > maxLineLength { throw LineTooLong(limit: maxLineLength) }
                return nil
            }
            let line = Data(buffer[start..<newline])
            start = newline + 1
            scanned = start
            if line.isEmpty || line == Data([0x0D]) { continue }
            return line
        }
    }

    /// Bytes held that do not yet form a line.
    public var pendingBytes: Int { buffer.count - start }
}
