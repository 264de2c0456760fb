import CCurl
import Foundation
import Synchronization

/// Owns the curl multi handles and the one thread that drives them.
///
/// Callers on any thread hand requests over through a locked inbox and wake the
/// thread with `curl_multi_wakeup`; answers come back through continuations or
/// a `ByteStream`. No Swift-concurrency thread ever waits inside curl, and curl
/// handles are touched by the I/O thread alone.
///
/// Two multi handles, so two connection pools: ordinary requests share
/// multiplexed HTTP/2 connections; each stream (a watch) gets an HTTP/1.1
/// connection of its own, whose TCP window is what a pause holds back. Kept in
/// one pool, curl 7.88 would sometimes queue a request on a busy watch
/// connection, where it waits forever. The thread waits on both at once.
public final class CurlEngine: Sendable {
    /// The process's one engine: one I/O thread, one connection pool.
    public static let shared = CurlEngine()

    enum Command {
        case start(Transfer)
        case cancel(Int)
        case resume(Int)
    }

    let multi: SendableHandle
    let streamMulti: SendableHandle
    let inbox = Mutex<[Command]>([])
    private let nextID = Atomic<Int>(1)

    private init() {
        Self.globalInit
        guard let m = curl_multi_init(), let sm = curl_multi_init() else { fatalError("curl_multi_init failed: out of memory") }
        multi = SendableHandle(m)
        streamMulti = SendableHandle(sm)
        // Several requests share one HTTP/2 connection when the server offers it.
        _ = aviary_multi_setopt_long(m, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        let thread = Thread { [self] in
            IOLoop(engine: self).run()
        }
        thread.name = "aviary-curl-io"
        thread.start()
    }

    /// Also ignores SIGPIPE, process-wide: with CURLOPT_NOSIGNAL (required off
    /// the main thread) libcurl leaves SIGPIPE to the application, and OpenSSL
    /// writing to a connection the server has just closed would otherwise
    /// kill the process without a word (seen at scale: 1,000 Rollouts).
    private static let globalInit: Void = {
        signal(SIGPIPE, SIG_IGN)
        _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }()

    /// Sends a request and returns the whole response. A request that may not
    /// be sent (`HTTPRequest.validate`) throws `RequestRefused` before any I/O;
    /// a body past `maxResponseBytes` throws `ResponseTooLarge`.
    public func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        try request.validate()
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let token = CancelToken()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<HTTPResponse, Error>) in
                submit(.start(Transfer(id: id, request: request, sink: BufferedSink(continuation: cont, maxBytes: request.maxResponseBytes),
                                       token: token)))
            }
        } onCancel: {
            self.cancel(id, token)
        }
    }

    /// Starts a request whose body is read as it arrives. At most about
    /// `bufferLimit` bytes wait unread; past that the transfer is paused until
    /// the reader catches up.
    public func stream(_ request: HTTPRequest, bufferLimit: Int = 4 << 20) -> ByteStream {
        var request = request
        request.http2 = false
        let id = nextID.add(1, ordering: .relaxed).oldValue
        let token = CancelToken()
        let stream = ByteStream(id: id, limit: bufferLimit, engine: self, token: token)
        submit(.start(Transfer(id: id, request: request, sink: stream, token: token)))
        return stream
    }

    /// Cancels a transfer whether or not the I/O thread has started it yet.
    func cancel(_ id: Int, _ token: CancelToken) {
        if token.cancel() { submit(.cancel(id)) }
    }

    func submit(_ command: Command) {
        inbox.withLock { $0.append(command) }
        _ = curl_multi_wakeup(multi.pointer)
    }
}

/// A curl pointer that crosses to the I/O thread once, at start.
struct SendableHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}

/// The I/O thread's state: everything here runs on that thread only.
private final class IOLoop {
    let engine: CurlEngine
    let multi: UnsafeMutableRawPointer
    let streamMulti: UnsafeMutableRawPointer
    var streamFds = [curl_waitfd](repeating: curl_waitfd(), count: 512)
    var active: [Int: Transfer] = [:]
    var byHandle: [UnsafeMutableRawPointer: Transfer] = [:]

    init(engine: CurlEngine) {
        self.engine = engine
        self.multi = engine.multi.pointer
        self.streamMulti = engine.streamMulti.pointer
    }

    func pool(for transfer: Transfer) -> UnsafeMutableRawPointer {
        transfer.request.http2 ? multi : streamMulti
    }

    func run() {
        while true {
            let commands = engine.inbox.withLock { pending -> [CurlEngine.Command] in
                defer { pending.removeAll(keepingCapacity: true) }
                return pending
            }
            for command in commands { handle(command) }
            var running: Int32 = 0
            _ = curl_multi_perform(multi, &running)
            _ = curl_multi_perform(streamMulti, &running)
            collectFinished(multi)
            collectFinished(streamMulti)
            dropIdle()
            // Wait on both pools: the streams' sockets ride along as extra fds.
            var streamTimeout = -1
            _ = curl_multi_timeout(streamMulti, &streamTimeout)
            let wait = streamTimeout >= 0 ? min(streamTimeout, 1000) : 1000
            let extra = streamFds.withUnsafeMutableBufferPointer { aviary_multi_waitfds(streamMulti, $0.baseAddress, Int32($0.count)) }
            var fds: Int32 = 0
            _ = streamFds.withUnsafeMutableBufferPointer { curl_multi_poll(multi, $0.baseAddress, UInt32(extra), Int32(wait), &fds) }
        }
    }

    func handle(_ command: CurlEngine.Command) {
        switch command {
        case .start(let transfer):
            // Cancelled before it started (a task cancelled at once): never send it.
            if transfer.token.isCancelled {
                transfer.sink.finish(TransportFailure(kind: .cancelled, server: transfer.request.server, detail: "", notSent: true))
                return
            }
            do {
                let easy = try transfer.makeEasyHandle()
                active[transfer.id] = transfer
                byHandle[easy] = transfer
                let code = curl_multi_add_handle(pool(for: transfer), easy)
                if code != CURLM_OK {
                    complete(transfer, error: TransportFailure(kind: .other, server: transfer.request.server,
                                                               detail: String(cString: curl_multi_strerror(code)), notSent: true))
                }
            } catch {
                transfer.sink.finish(error)
            }
        case .cancel(let id):
            // Not active: it has finished, or its start will see the token.
            guard let transfer = active[id] else { return }
            complete(transfer, error: TransportFailure(kind: .cancelled, server: transfer.request.server, detail: "", notSent: false))
        case .resume(let id):
            guard let transfer = active[id], let easy = transfer.easy else { return }
            // The quiet spell while paused was the reader's doing, not the connection's.
            transfer.touch()
            transfer.sink.willResume()
            _ = curl_easy_pause(easy, 0) // CURLPAUSE_CONT
        }
    }

    func collectFinished(_ pool: UnsafeMutableRawPointer) {
        var left: Int32 = 0
        while let msg = curl_multi_info_read(pool, &left) {
            guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle, let transfer = byHandle[easy] else { continue }
            let code = msg.pointee.data.result
            complete(transfer, error: code == CURLE_OK ? nil : transfer.failure(for: code))
        }
    }

    /// Ends streams that have been silent past their idle limit: a half-open
    /// connection sends nothing and would otherwise hang a watch forever.
    func dropIdle() {
        let now = ContinuousClock.now
        for transfer in active.values where transfer.isIdle(now: now) {
            let limit = transfer.request.idleTimeout.map { "\($0)" } ?? ""
            complete(transfer, error: TransportFailure(kind: .timedOut, server: transfer.request.server,
                                                       detail: "no data for \(limit); presuming the connection dead", notSent: false))
        }
    }

    func complete(_ transfer: Transfer, error: Error?) {
        if let easy = transfer.easy {
            _ = curl_multi_remove_handle(pool(for: transfer), easy)
            byHandle[easy] = nil
        }
        active[transfer.id] = nil
        transfer.release()
        transfer.sink.finish(error)
    }
}

/// Shared by a caller and its transfer: cancelling before the I/O thread has
/// started the transfer means it is never sent.
final class CancelToken: Sendable {
    private let flag = Atomic<Bool>(false)

    /// Returns true for the call that cancelled it.
    func cancel() -> Bool {
        flag.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
    }

    var isCancelled: Bool { flag.load(ordering: .relaxed) }
}
