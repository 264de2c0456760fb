import FlyingFox
import FlyingSocks
import Foundation

/// The text/event-stream framing (WHATWG HTML, "Server-sent events"): what
/// the `/api/stream` body is made of. Pure.
public enum ServerSentEvents {
    /// How long a browser waits before reconnecting, in milliseconds.
    public static let retryMilliseconds = 2_000
    /// A comment line every so often, so proxies and the browser see the stream alive.
    public static let pingInterval = Duration.seconds(15)

    /// `retry: 2000`: sent first.
    public static func retry(_ ms: Int = retryMilliseconds) -> String { "retry: \(ms)\n\n" }

    public static let ping = ": ping\n\n"

    /// One event. A data line may not hold a line break, so every line of
    /// `data` gets its own `data:` field (the browser joins them with "\n");
    /// an event name with a line break is cut at it.
    public static func event(_ name: String, data: String) -> String {
        let event = name.split(whereSeparator: \.isNewline).first.map(String.init) ?? "message"
        let lines = data.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
        return "event: \(event)\n" + lines.map { "data: \($0)\n" }.joined() + "\n"
    }

    /// `event: changed` naming one Rollout.
    public static func changed(namespace: String?, name: String) -> String {
        struct Key: Encodable { var namespace: String; var name: String }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = (try? encoder.encode(Key(namespace: namespace ?? "", name: name))).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return event("changed", data: json)
    }
}

/// A response body fed by an `AsyncStream` of frames: FlyingFox sends it
/// chunked, each frame as soon as it is yielded.
struct StreamBody: AsyncBufferedSequence, Sendable {
    typealias Element = UInt8
    let frames: AsyncStream<[UInt8]>
    /// Calls `end` when the last copy of the body goes (the connection closed and FlyingFox let go of the response).
    let lifetime: Lifetime

    final class Lifetime: Sendable {
        let end: @Sendable () -> Void
        init(_ end: @escaping @Sendable () -> Void) { self.end = end }
        deinit { end() }
    }

    func makeAsyncIterator() -> Iterator { Iterator(frames: frames.makeAsyncIterator()) }

    struct Iterator: AsyncBufferedIteratorProtocol {
        var frames: AsyncStream<[UInt8]>.AsyncIterator
        var pending: [UInt8] = []
        var offset = 0

        mutating func next() async -> UInt8? {
            guard let buffer = await nextBuffer(suggested: 1), let first = buffer.first else { return nil }
            return first
        }

        /// At most `count` bytes of the current frame; waits for the next frame when none is left.
        mutating func nextBuffer(suggested count: Int) async -> ArraySlice<UInt8>? {
            while offset >= pending.count {
                guard let frame = await frames.next() else { return nil }
                pending = frame
                offset = 0
            }
            let end = Swift.min(pending.count, offset + Swift.max(1, count))
            defer { offset = end }
            return pending[offset..<end]
        }
    }
}
