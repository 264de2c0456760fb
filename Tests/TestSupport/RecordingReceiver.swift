import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 receiver on 127.0.0.1 (a free port) that records every
/// request whole and answers as its script says: what a notification
/// receiver (Slack, a webhook, Teams…) looks like to a test.
///
/// It reads the request line, the headers and the body (by `Content-Length`,
/// or `Transfer-Encoding: chunked`), records it, then answers with the
/// script's status and `Connection: close` (one request per connection).
/// Plain POSIX sockets on threads of its own (an accepting thread and one
/// per connection), so it never blocks a Swift-concurrency thread; every
/// member is safe to call from any thread or task. One receiver per test:
///
///     let receiver = try RecordingReceiver(script: .sequence([500, 500, 200]))
///     defer { receiver.stop() }
///     … send to receiver.url("/hook") …
///     let got = await receiver.waitFor(count: 3, timeout: .seconds(10))
///     #expect(got[2].header("content-type") == "application/json")
///
/// `stop()` must be called (the threads keep the receiver alive until then).
public final class RecordingReceiver: @unchecked Sendable {
    /// How the receiver answers, request by request (counted from the last `setScript`).
    public enum Script: Sendable, Equatable {
        /// Every request gets this status.
        case always(Int)
        /// The n-th request gets the n-th status; once they run out, `then`.
        case sequence([Int], then: Int = 200)
        /// Reads and records the request, never answers: the connection stays
        /// open until the client gives up or `stop()` is called.
        case hang
    }

    /// One request as it arrived.
    public struct Recorded: Sendable, Equatable {
        /// As on the request line: "POST".
        public var method: String
        /// The request target as sent, with any query: "/api/chat.postMessage".
        public var path: String
        /// Header lines as received, "Name: value", in order.
        public var headers: [String]
        /// The body, de-chunked if it came chunked.
        public var body: [UInt8]
        /// When the whole request had arrived (wall clock, for logs across processes).
        public var date: Date
        /// The same moment on the monotonic clock, for intervals (retry waits).
        public var instant: ContinuousClock.Instant

        /// The body as UTF-8 text. A JSON body is as the sender encoded it (Foundation's
        /// JSONEncoder writes "/" as "\/"): decode it before looking for text with a slash.
        public var bodyText: String { String(decoding: body, as: UTF8.self) }

        /// The first header of this name (case-insensitive), its value trimmed; nil if absent.
        public func header(_ name: String) -> String? {
            for line in headers {
                guard let colon = line.firstIndex(of: ":") else { continue }
                if line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == name.lowercased() {
                    return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
            }
            return nil
        }
    }

    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    /// What a 2xx (and any other) answer carries as its body: JSON, as Slack's API answers.
    public let responseBody: String

    private let listener: Int32
    private let lock = NSLock()
    private var script: Script
    /// Requests answered (or not) since the last `setScript`: the index into a sequence.
    private var served = 0
    private var recorded: [Recorded] = []
    /// Connections being served: shut down by `stop()`. A descriptor is in here only while open.
    private var open: Set<Int32> = []
    private var stopped = false
    private let threads = DispatchGroup()

    /// Largest request head and body it reads; beyond them the request is answered 413 (head: 431) and not recorded.
    public static let maxHead = 64 * 1024
    public static let maxBody = 8 * 1024 * 1024

    /// Starts listening at once; throws only if no loopback port can be had.
    public init(script: Script = .always(200), responseBody: String = #"{"ok":true}"#) throws {
        let (fd, port) = try Loopback.listen(backlog: 64)
        self.port = port
        self.listener = fd
        self.script = script
        self.responseBody = responseBody
        threads.enter()
        let thread = Thread { [self] in
            acceptLoop()
            threads.leave()
        }
        thread.start()
    }

    /// "http://127.0.0.1:<port>" followed by `path` (give it its leading "/").
    public func url(_ path: String = "") -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Every request recorded so far, in arrival order.
    public var requests: [Recorded] { lock.withLock { recorded } }

    /// Changes how the next requests are answered; a sequence starts again from its first status.
    public func setScript(_ script: Script) {
        lock.withLock {
            self.script = script
            served = 0
        }
    }

    /// Waits (polling) until at least `count` requests have arrived or `timeout` has passed,
    /// then returns what has arrived: fewer than `count` means the timeout passed.
    public func waitFor(count: Int, timeout: Duration = .seconds(10)) async -> [Recorded] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let now = requests
            if now.count >= count || ContinuousClock.now >= deadline || Task.isCancelled { return now }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Stops accepting, drops every open connection (a hanging one too), and
    /// waits until its threads have let go of every socket. Calling it again does nothing.
    public func stop() {
        let first: Bool = lock.withLock {
            defer { stopped = true }
            guard !stopped else { return false }
            // Under the lock: a descriptor in `open` has not been closed, so it cannot be someone else's yet.
            for fd in open { _ = shutdown(fd, Int32(SHUT_RDWR)) }
            return true
        }
        guard first else { return }
        _ = shutdown(listener, Int32(SHUT_RDWR))
        threads.wait()
    }

    // MARK: - Serving

    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 {
                let code = errno
                if (code == EINTR || code == ECONNABORTED) && !lock.withLock({ stopped }) { continue }
                // Closed here, not in stop(): the descriptor is never reused while this thread still uses it.
                close(listener)
                return
            }
            let admitted: Bool = lock.withLock {
                guard !stopped else { return false }
                open.insert(c)
                return true
            }
            guard admitted else {
                close(c)
                continue
            }
            threads.enter()
            let thread = Thread { [self] in
                serve(c)
                lock.withLock { _ = open.remove(c) }
                close(c)
                threads.leave()
            }
            thread.start()
        }
    }

    private func serve(_ c: Int32) {
        var reader = Reader(fd: c)
        guard let head = reader.head(limit: Self.maxHead) else {
            if reader.overflowed { write(c, status: 431) }
            return
        }
        var lines = head.components(separatedBy: "\r\n")
        let requestLine = lines.removeFirst().split(separator: " ", omittingEmptySubsequences: true)
        guard requestLine.count == 3 else {
            write(c, status: 400)
            return
        }
        let headers = lines.filter { !$0.isEmpty }
        let probe = Recorded(method: String(requestLine[0]), path: String(requestLine[1]), headers: headers, body: [],
                             date: Date(), instant: .now)
        let body: [UInt8]?
        if probe.header("transfer-encoding")?.lowercased().contains("chunked") == true {
            body = reader.chunked(limit: Self.maxBody)
        } else if let field = probe.header("content-length") {
            guard let length = Int(field), length >= 0 else {
                write(c, status: 400)
                return
            }
            guard length <= Self.maxBody else {
                write(c, status: 413)
                return
            }
            body = reader.exactly(length)
        } else {
            body = []
        }
        guard let body else {
            if reader.overflowed { write(c, status: 413) }
            return  // the client went away mid-request: nothing arrived
        }
        var request = probe
        request.body = body
        request.date = Date()
        request.instant = .now
        let answer: Int? = lock.withLock {
            recorded.append(request)
            defer { served += 1 }
            switch script {
            case .always(let status): return status
            case .sequence(let list, let then): return served < list.count ? list[served] : then
            case .hang: return nil
            }
        }
        guard let answer else {
            // Hang: wait for the client to give up (or stop() to shut the socket), never answering.
            var scratch = [UInt8](repeating: 0, count: 1024)
            while recv(c, &scratch, scratch.count, 0) > 0 {}
            return
        }
        write(c, status: answer)
    }

    private func write(_ c: Int32, status: Int) {
        let body = Array(responseBody.utf8)
        let head = ["HTTP/1.1 \(status) \(Self.reason(status))", "Content-Type: application/json", "Content-Length: \(body.count)",
                    "Connection: close", "", ""].joined(separator: "\r\n")
        let bytes = Array(head.utf8) + body
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = send(c, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { break }
                offset += n
            }
        }
        // Let the client see the end of the answer before the socket goes.
        _ = shutdown(c, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 1024)
        var tv = timeval(tv_sec: 1, tv_usec: 0)
        _ = setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        while recv(c, &scratch, scratch.count, 0) > 0 {}
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 413: "Content Too Large"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }

    /// Buffered reads from one connection.
    private struct Reader {
        let fd: Int32
        var buffer: [UInt8] = []
        var overflowed = false

        init(fd: Int32) { self.fd = fd }

        /// Reads more; false when the peer is gone.
        mutating func fill() -> Bool {
            var chunk = [UInt8](repeating: 0, count: 16 * 1024)
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return false }
            buffer += chunk[0..<n]
            return true
        }

        /// Index just past the first CRLF at or after `from`, or nil.
        func lineEnd(from: Int = 0) -> Int? {
            guard buffer.count >= from + 2 else { return nil }
            var i = from
            while i + 1 < buffer.count {
                if buffer[i] == 13 && buffer[i + 1] == 10 { return i + 2 }
                i += 1
            }
            return nil
        }

        /// The request head (without the blank line), consumed.
        mutating func head(limit: Int) -> String? {
            var scanned = 0
            while true {
                if buffer.count >= 4 {
                    var i = max(0, scanned - 3)
                    while i + 3 < buffer.count {
                        if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
                            let text = String(decoding: buffer[0..<i], as: UTF8.self)
                            buffer.removeFirst(i + 4)
                            return text
                        }
                        i += 1
                    }
                    scanned = buffer.count
                }
                if buffer.count > limit {
                    overflowed = true
                    return nil
                }
                guard fill() else { return nil }
            }
        }

        mutating func exactly(_ n: Int) -> [UInt8]? {
            while buffer.count < n { guard fill() else { return nil } }
            let out = Array(buffer[0..<n])
            buffer.removeFirst(n)
            return out
        }

        mutating func line() -> String? {
            while true {
                if let end = lineEnd() {
                    let text = String(decoding: buffer[0..<(end - 2)], as: UTF8.self)
                    buffer.removeFirst(end)
                    return text
                }
                if buffer.count > 4096 { return nil }
                guard fill() else { return nil }
            }
        }

        mutating func chunked(limit: Int) -> [UInt8]? {
            var body: [UInt8] = []
            while true {
                guard let sizeLine = line() else { return nil }
                let hex = sizeLine.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                guard let size = Int(hex, radix: 16), size >= 0 else { return nil }
                if size == 0 {
                    // Trailers, up to the blank line.
                    while let trailer = line(), !trailer.isEmpty {}
                    return body
                }
                guard body.count + size <= limit else {
                    overflowed = true
                    return nil
                }
                guard let data = exactly(size + 2) else { return nil }
                body += data[0..<size]
            }
        }
    }
}
