import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The dashboard's HTTP contract with canned answers, for the page's browser
/// tests: `Sources/Dashboard/Assets` at `/` and `/assets/…` (under the same
/// CSP the real server sends), `/api/rollouts` (filtered by namespace and
/// phase, as the server does), `/api/rollouts/{ns}/{name}`, and
/// `/api/stream` (server-sent events the test pushes, and can drop),
/// `/api/session` (as the test sets it) and the actions' POSTs (recorded,
/// answered as the test says).
final class CannedDashboard: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let lock = NSLock()
    private var rows: [[String: Any]] = []
    private var namespaces: [String] = []
    private var details: [String: [String: Any]] = [:]
    private var streams: [Int32] = []
    private var down = false
    private var paths: [String] = []
    private var stopped = false
    private var session: [String: Any] = ["actions": false]
    private var posted: [Post] = []
    private var postAnswer: (status: String, body: [String: Any]) = ("200 OK", ["ok": true, "message": "promoted"])

    /// One POST as received: its target, headers (names lowercased) and body.
    struct Post: Sendable {
        var path: String
        var headers: [String: String]
        var body: String
    }
    static let assets = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources/Dashboard/Assets").path

    var url: String { "http://127.0.0.1:\(port)" }

    init() throws {
        let (fd, port) = try Loopback.listen(backlog: 64)
        listener = fd
        self.port = port
        let t = Thread { [self] in acceptLoop() }
        t.start()
    }

    func setList(_ rows: [[String: Any]], namespaces: [String]) {
        lock.withLock { self.rows = rows; self.namespaces = namespaces }
    }

    func setDetail(_ namespace: String, _ name: String, _ detail: [String: Any]) {
        lock.withLock { details[namespace + "/" + name] = detail }
    }

    /// What `GET /api/session` answers (`{"actions": false}` unless set).
    func setSession(_ value: [String: Any]) { lock.withLock { session = value } }

    /// What every POST is answered with, e.g. ("403 Forbidden", ["error": "…"]).
    func setPostAnswer(_ status: String, _ body: [String: Any]) { lock.withLock { postAnswer = (status, body) } }

    /// The POSTs received so far.
    var posts: [Post] { lock.withLock { posted } }

    /// The request targets seen so far (path and query).
    var requests: [String] { lock.withLock { paths } }

    /// Open event streams.
    var streamCount: Int { lock.withLock { streams.count } }

    /// Sends `event: changed` to every open stream.
    func changed(_ namespace: String, _ name: String) {
        let data = (try? JSONSerialization.data(withJSONObject: ["namespace": namespace, "name": name])) ?? Data()
        push("event: changed\ndata: " + String(decoding: data, as: UTF8.self) + "\n\n")
    }

    /// Drops every open stream; while `down`, new ones are cut at once (the browser keeps retrying).
    func setStreamDown(_ value: Bool) {
        let cut = lock.withLock { () -> [Int32] in
            down = value
            guard value else { return [] }
            defer { streams = [] }
            return streams
        }
        for fd in cut { _ = shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
    }

    func stop() {
        let open = lock.withLock { () -> [Int32] in
            stopped = true
            defer { streams = [] }
            return streams
        }
        for fd in open { _ = shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
        _ = shutdown(listener, Int32(SHUT_RDWR))
    }

    private func push(_ text: String) {
        let fds = lock.withLock { streams }
        var dead: [Int32] = []
        for fd in fds where !write(fd, Array(text.utf8)) { dead.append(fd) }
        if !dead.isEmpty {
            lock.withLock { streams.removeAll { dead.contains($0) } }
            for fd in dead { close(fd) }
        }
    }

    private func acceptLoop() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 {
                close(listener)
                return
            }
            let t = Thread { [self] in handle(c) }
            t.start()
        }
    }

    private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return true }
            var offset = 0
            while offset < raw.count {
                let n = send(fd, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 { return false }
                offset += n
            }
            return true
        }
    }

    private func handle(_ c: Int32) {
        var head: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while String(decoding: head, as: UTF8.self).range(of: "\r\n\r\n") == nil {
            let n = recv(c, &buffer, buffer.count, 0)
            if n <= 0 { close(c); return }
            head += buffer[0..<n]
        }
        let line = String(decoding: head, as: UTF8.self).split(separator: "\r\n").first.map(String.init) ?? ""
        let parts = line.split(separator: " ")
        if parts.count >= 2, parts[0] == "POST" {
            post(c, target: String(parts[1]), received: head)
            return
        }
        guard parts.count >= 2, parts[0] == "GET" else {
            _ = write(c, response("405 Method Not Allowed", "text/plain", Array("GET only\n".utf8)))
            close(c)
            return
        }
        let target = String(parts[1])
        lock.withLock { paths.append(target) }
        let path = String(target.split(separator: "?", maxSplits: 1).first ?? "")
        let query = target.contains("?") ? String(target.split(separator: "?", maxSplits: 1)[1]) : ""

        if path == "/api/stream" {
            let refuse = lock.withLock { down || stopped }
            if refuse { close(c); return }
            let headers = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\r\nretry: 2000\n\n"
            guard write(c, Array(headers.utf8)) else { close(c); return }
            lock.withLock { streams.append(c) }
            return // held open; push() writes to it, setStreamDown() and stop() close it
        }
        _ = write(c, answer(path, query))
        close(c)
    }

    /// Records a POST (reading its body by Content-Length) and answers it as set.
    private func post(_ c: Int32, target: String, received: [UInt8]) {
        var bytes = received
        let text = { String(decoding: bytes, as: UTF8.self) }
        let headEnd = text().range(of: "\r\n\r\n")!
        var headers: [String: String] = [:]
        for h in text()[..<headEnd.lowerBound].split(separator: "\r\n").dropFirst() {
            let kv = h.split(separator: ":", maxSplits: 1)
            if kv.count == 2 { headers[kv[0].lowercased()] = kv[1].trimmingCharacters(in: .whitespaces) }
        }
        let headLength = text()[..<headEnd.upperBound].utf8.count
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var buffer = [UInt8](repeating: 0, count: 4096)
        while bytes.count < headLength + length {
            let n = recv(c, &buffer, buffer.count, 0)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        let body = String(decoding: bytes[headLength...], as: UTF8.self)
        let answer = lock.withLock { () -> (String, [String: Any]) in
            posted.append(Post(path: target, headers: headers, body: body))
            paths.append("POST " + target)
            return (postAnswer.status, postAnswer.body)
        }
        let data = (try? JSONSerialization.data(withJSONObject: answer.1)) ?? Data("{}".utf8)
        _ = write(c, response(answer.0, "application/json", Array(data)))
        close(c)
    }

    private func answer(_ path: String, _ query: String) -> [UInt8] {
        if path == "/" || path == "/index.html" { return file("index.html") }
        if path == "/api/session" { return json(lock.withLock { session }) }
        if path.hasPrefix("/assets/") {
            let name = String(path.dropFirst("/assets/".count))
            guard name.range(of: "^[a-z0-9-]+\\.(js|css|svg|html)$", options: .regularExpression) != nil else { return notFound() }
            return file(name)
        }
        if path == "/api/rollouts" {
            var q: [String: String] = [:]
            for pair in query.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
                if kv.count == 2 { q[kv[0]] = kv[1] }
            }
            let (rows, namespaces) = lock.withLock { (self.rows, self.namespaces) }
            let filtered = rows.filter { r in
                (q["namespace"].map { $0 == r["namespace"] as? String } ?? true) && (q["phase"].map { $0 == r["phase"] as? String } ?? true)
            }
            return json(["rollouts": filtered, "namespaces": namespaces])
        }
        if path.hasPrefix("/api/rollouts/") {
            let rest = path.dropFirst("/api/rollouts/".count).split(separator: "/", omittingEmptySubsequences: false)
            guard rest.count == 2, let ns = String(rest[0]).removingPercentEncoding, let name = String(rest[1]).removingPercentEncoding else { return notFound() }
            guard let detail = lock.withLock({ details[ns + "/" + name] }) else {
                return response("404 Not Found", "application/json", Array(#"{"error":"no rollout \#(ns)/\#(name)"}"#.utf8))
            }
            return json(detail)
        }
        return notFound()
    }

    private func file(_ name: String) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: Self.assets + "/" + name) else { return notFound() }
        let type = switch (name as NSString).pathExtension {
        case "js": "text/javascript; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "svg": "image/svg+xml"
        default: "text/html; charset=utf-8"
        }
        return response("200 OK", type, Array(data))
    }

    private func json(_ object: Any) -> [UInt8] {
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        return response("200 OK", "application/json", Array(data))
    }

    private func notFound() -> [UInt8] { response("404 Not Found", "text/plain", Array("not found\n".utf8)) }

    private func response(_ status: String, _ type: String, _ body: [UInt8]) -> [UInt8] {
        TinyHTTPServer.response(status, headers: [
            "Content-Type: \(type)", "Content-Length: \(body.count)", "Cache-Control: no-store",
            "Content-Security-Policy: default-src 'self'", "X-Content-Type-Options: nosniff",
        ], body: body)
    }
}
