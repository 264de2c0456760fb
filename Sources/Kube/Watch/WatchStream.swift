import Foundation

/// The events of one watch connection, read as they arrive. Reading slowly
/// pauses the transfer (see `ByteStream`), so memory stays bounded. The
/// sequence ends when the server closes the watch; it throws on an ERROR event
/// or a broken connection. Dropping the iterator cancels the transfer.
public struct WatchStream<T: Decodable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<T>
    let connection: Connection

    init(stream: ByteStream) {
        connection = Connection(stream: stream)
    }

    /// Owns the transfer: when the last reference goes, the transfer is cancelled.
    final class Connection: Sendable {
        let stream: ByteStream
        init(stream: ByteStream) { self.stream = stream }
        deinit { stream.cancel() }
    }

    public func makeAsyncIterator() -> Iterator { Iterator(connection: connection) }

    public func cancel() { connection.stream.cancel() }

    /// Bytes received but not yet read: bounded by the buffer limit.
    public var bufferedBytes: Int { connection.stream.bufferedBytes }
    /// True while the transfer is paused because the reader is behind.
    public var isPaused: Bool { connection.stream.isPaused }

    public struct Iterator: AsyncIteratorProtocol {
        let connection: Connection
        var decoder = WatchDecoder<T>()
        var done = false

        public mutating func next() async throws -> WatchEvent<T>? {
            while !done {
                if let event = try decoder.next() { return event }
                do {
                    guard let chunk = try await connection.stream.read() else {
                        done = true
                        return nil
                    }
                    decoder.append(chunk)
                } catch let failure as TransportFailure {
                    done = true
                    if failure.kind == .cancelled { throw CancellationError() }
                    throw KubeError.transport(failure)
                }
            }
            return nil
        }
    }
}
