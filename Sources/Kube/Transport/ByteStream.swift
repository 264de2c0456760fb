import DequeModule
import Foundation
import Synchronization

/// A response body read while it arrives, for watches. The I/O thread offers
/// bytes; a reader takes them. When more than `limit` bytes wait unread the
/// transfer is paused, and it resumes once the reader has drained half of
/// them, so a slow reader holds memory bounded rather than growing it.
public final class ByteStream: TransferSink, Sendable {
    private struct State {
        var head: (status: Int, headers: [String: String])?
        var headWaiter: CheckedContinuation<(status: Int, headers: [String: String]), Error>?
        var chunks = Deque<Data>()
        var buffered = 0
        var paused = false
        /// A resume has been asked of the I/O thread and not yet carried out.
        var resumeRequested = false
        var ended = false
        var endError: Error?
        var reader: CheckedContinuation<Data?, Error>?
    }

    let id: Int
    private let limit: Int
    private let engine: CurlEngine
    private let token: CancelToken
    private let state = Mutex(State())

    init(id: Int, limit: Int, engine: CurlEngine, token: CancelToken) {
        self.id = id
        self.limit = limit
        self.engine = engine
        self.token = token
    }

    struct ConcurrentRead: Error, CustomStringConvertible {
        var description: String { "a ByteStream has one reader at a time" }
    }

    // MARK: reader side

    /// Waits for the status line and headers.
    public func head() async throws -> (status: Int, headers: [String: String]) {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<(status: Int, headers: [String: String]), Error>) in
                let ready: Result<(status: Int, headers: [String: String]), Error>? = state.withLock { s in
                    if let head = s.head { return .success(head) }
                    if s.ended { return .failure(s.endError ?? KubeError.decoding("stream ended before its headers")) }
                    if s.headWaiter != nil { return .failure(ConcurrentRead()) }
                    s.headWaiter = cont
                    return nil
                }
                if let ready { cont.resume(with: ready) }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// The next bytes, or nil at the end of the body. Throws the transfer's error.
    public func read() async throws -> Data? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Data?, Error>) in
                enum Next { case data(Data, resume: Bool), end(Error?), wait }
                let next: Next = state.withLock { s in
                    if let chunk = s.chunks.popFirst() {
                        s.buffered -= chunk.count
                        // Only the I/O thread clears `paused`, when it really unpauses.
                        let resume = s.paused && !s.resumeRequested && s.buffered <= limit / 2
                        if resume { s.resumeRequested = true }
                        return .data(chunk, resume: resume)
                    }
                    if s.ended { return .end(s.endError) }
                    if s.reader != nil { return .end(ConcurrentRead()) }
                    s.reader = cont
                    return .wait
                }
                switch next {
                case .data(let chunk, let resume):
                    if resume { engine.submit(.resume(id)) }
                    cont.resume(returning: chunk)
                case .end(let error):
                    if let error { cont.resume(throwing: error) } else { cont.resume(returning: nil) }
                case .wait:
                    break
                }
            }
        } onCancel: {
            self.cancel()
        }
    }

    /// Ends the transfer; a waiting reader gets a cancellation error.
    public func cancel() {
        engine.cancel(id, token)
    }

    /// Bytes waiting unread, for tests of backpressure.
    public var bufferedBytes: Int { state.withLock { $0.buffered } }
    public var isPaused: Bool { state.withLock { $0.paused } }

    // MARK: I/O-thread side

    func willResume() {
        state.withLock { s in
            s.paused = false
            s.resumeRequested = false
        }
    }

    func receiveHead(status: Int, headers: [String: String]) {
        let waiter = state.withLock { s -> CheckedContinuation<(status: Int, headers: [String: String]), Error>? in
            s.head = (status, headers)
            defer { s.headWaiter = nil }
            return s.headWaiter
        }
        waiter?.resume(returning: (status, headers))
    }

    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        enum Action { case handTo(CheckedContinuation<Data?, Error>), pause, buffered }
        let action: Action = state.withLock { s in
            if let reader = s.reader {
                s.reader = nil
                return .handTo(reader)
            }
            if s.buffered > 0, s.buffered + bytes.count > limit {
                s.paused = true
                return .pause
            }
            s.chunks.append(Data(bytes))
            s.buffered += bytes.count
            return .buffered
        }
        switch action {
        case .handTo(let reader):
            reader.resume(returning: Data(bytes))
            return true
        case .pause:
            return false
        case .buffered:
            return true
        }
    }

    func finish(_ error: Error?) {
        let (reader, headWaiter) = state.withLock { s in
            s.ended = true
            s.endError = error
            defer { s.reader = nil; s.headWaiter = nil }
            return (s.reader, s.headWaiter)
        }
        if let reader {
            if let error { reader.resume(throwing: error) } else { reader.resume(returning: nil) }
        }
        headWaiter?.resume(throwing: error ?? KubeError.decoding("stream ended before its headers"))
    }
}
