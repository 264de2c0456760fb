import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A small W3C WebDriver client for the dashboard's browser tests: it starts
/// Debian's `chromedriver` on a free loopback port, opens one headless
/// Chromium session, and speaks the protocol's JSON over HTTP/1.1 on a
/// loopback socket (URLSession on Linux rejects chromedriver's header lines,
/// `Content-Length:252` without a space, as "Failed writing header").
/// Only what the tests use: navigate, find by CSS, text, attributes, click,
/// keys, scripts, the browser log, screenshots.
public final class WebDriver: @unchecked Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// A found element (its WebDriver reference).
    public struct Element: Sendable, Hashable {
        public let id: String
    }

    public static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    /// Where chromedriver and Chromium are, or why they are not usable.
    public static func locate() -> Result<(driver: String, browser: String?), Failure> {
        let env = ProcessInfo.processInfo.environment
        let drivers = [env["AVIARY_CHROMEDRIVER"], "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].compactMap { $0 }
        guard let driver = drivers.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            return .failure(Failure("chromedriver not found (looked at \(drivers.joined(separator: ", "))): install Debian's chromium and chromium-driver (`scripts/install-deps.sh` does), or set AVIARY_CHROMEDRIVER"))
        }
        let browsers = [env["AVIARY_CHROMIUM"], "/usr/bin/chromium", "/usr/lib/chromium/chromium"].compactMap { $0 }
        let browser = browsers.first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        if browser == nil {
            return .failure(Failure("chromium not found (looked at \(browsers.joined(separator: ", "))): install Debian's chromium (`scripts/install-deps.sh` does), or set AVIARY_CHROMIUM"))
        }
        return .success((driver, browser))
    }

    private let process: Process
    private let base: Int
    public let sessionID: String
    private let profile: String
    private let lock = NSLock()
    private var closed = false

    /// Starts chromedriver and a headless browser session with a window of `width`×`height` CSS pixels.
    public static func start(width: Int = 1280, height: Int = 900, timeout: TimeInterval = 30) async throws -> WebDriver {
        let (driver, browser) = try locate().get()
        let (fd, port) = try Loopback.listen()
        close(fd) // a free port for chromedriver (a tiny race, acceptable in tests)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: driver)
        p.arguments = ["--port=\(port)", "--allowed-ips=127.0.0.1", "--log-level=WARNING"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let base = port
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let (_, status) = try? await Self.send(base, "GET", "/status", nil), status == 200 { break }
            if Date() > deadline || !p.isRunning {
                _ = kill(p.processIdentifier, SIGKILL)
                throw Failure("chromedriver at \(driver) did not answer on port \(port) within \(Int(timeout))s")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let profile = NSTemporaryDirectory() + "aviary-chromium-\(UUID().uuidString.prefix(8))"
        var chrome: [String: Any] = [
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=\(width),\(height)", "--user-data-dir=\(profile)", "--no-first-run", "--lang=en-US"],
        ]
        if let browser { chrome["binary"] = browser }
        let caps: [String: Any] = ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "goog:chromeOptions": chrome,
            "goog:loggingPrefs": ["browser": "ALL"],
        ] as [String: Any]]]
        let answer: Any
        do {
            answer = try await Self.command(base, "POST", "/session", caps)
        } catch {
            _ = kill(p.processIdentifier, SIGKILL)
            throw Failure("could not start headless chromium through chromedriver: \(error)")
        }
        guard let sid = (answer as? [String: Any])?["sessionId"] as? String else {
            _ = kill(p.processIdentifier, SIGKILL)
            throw Failure("chromedriver's new session had no sessionId: \(answer)")
        }
        // Chromium outlives a chromedriver that is stopped without ending the session: kept to stop it too.
        let browserPID = ((answer as? [String: Any])?["capabilities"] as? [String: Any])?["goog:processID"] as? Int
        return WebDriver(process: p, base: base, sessionID: sid, profile: profile, browserPID: browserPID.map { Int32($0) })
    }

    private let browserPID: Int32?

    private init(process: Process, base: Int, sessionID: String, profile: String, browserPID: Int32?) {
        self.browserPID = browserPID
        self.process = process
        self.base = base
        self.sessionID = sessionID
        self.profile = profile
    }

    deinit { quitNow() }

    /// Ends the session and stops chromedriver.
    public func quit() async {
        let first = lock.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        let ended = (try? await Self.send(base, "DELETE", "/session/\(sessionID)", nil))?.1 == 200
        stopProcess(browserToo: !ended)
    }

    private func quitNow() {
        let first = lock.withLock { () -> Bool in
            defer { closed = true }
            return !closed
        }
        if first { stopProcess(browserToo: true) }
    }

    private func stopProcess(browserToo: Bool) {
        if browserToo, let browserPID, kill(browserPID, 0) == 0 { _ = kill(browserPID, SIGKILL) }
        if process.isRunning {
            // SIGKILL: chromedriver started from a test process may have inherited SIGTERM as ignored.
            _ = kill(process.processIdentifier, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(process.processIdentifier, &status, 0)
        }
        try? FileManager.default.removeItem(atPath: profile)
    }

    // MARK: Commands

    public func navigate(_ url: String) async throws {
        _ = try await run("POST", "/url", ["url": url])
    }

    public func currentURL() async throws -> String {
        try await run("GET", "/url", nil) as? String ?? ""
    }

    public func find(_ css: String) async throws -> Element {
        let v = try await run("POST", "/element", ["using": "css selector", "value": css])
        guard let e = Self.element(v) else { throw Failure("no element reference for \(css): \(v)") }
        return e
    }

    public func findAll(_ css: String) async throws -> [Element] {
        let v = try await run("POST", "/elements", ["using": "css selector", "value": css])
        return (v as? [Any] ?? []).compactMap(Self.element)
    }

    public func findAll(_ css: String, in parent: Element) async throws -> [Element] {
        let v = try await run("POST", "/element/\(parent.id)/elements", ["using": "css selector", "value": css])
        return (v as? [Any] ?? []).compactMap(Self.element)
    }

    public func text(_ e: Element) async throws -> String {
        try await run("GET", "/element/\(e.id)/text", nil) as? String ?? ""
    }

    public func attribute(_ e: Element, _ name: String) async throws -> String? {
        try await run("GET", "/element/\(e.id)/attribute/\(name)", nil) as? String
    }

    public func click(_ e: Element) async throws {
        _ = try await run("POST", "/element/\(e.id)/click", [String: Any]())
    }

    /// Types into an element (WebDriver key codes for special keys, e.g. `WebDriver.Key.enter`).
    public func sendKeys(_ e: Element, _ keys: String) async throws {
        _ = try await run("POST", "/element/\(e.id)/value", ["text": keys])
    }

    /// Presses keys on whatever has focus (Tab, Enter …), one key down and up each.
    public func press(_ keys: String...) async throws {
        var actions: [[String: Any]] = []
        for k in keys {
            actions.append(["type": "keyDown", "value": k])
            actions.append(["type": "keyUp", "value": k])
        }
        _ = try await run("POST", "/actions", ["actions": [["type": "key", "id": "keyboard", "actions": actions]]])
        _ = try await run("DELETE", "/actions", nil)
    }

    public enum Key {
        public static let tab = "\u{E004}"
        public static let enter = "\u{E007}"
        public static let escape = "\u{E00C}"
    }

    /// Runs a function body in the page (`return …` for a value); `args` are its `arguments`.
    @discardableResult
    public func execute(_ script: String, _ args: [Any] = []) async throws -> Any {
        try await run("POST", "/execute/sync", ["script": script, "args": args])
    }

    /// The page's console and errors since the last call (chromedriver's log endpoint).
    public func browserLog() async throws -> [(level: String, message: String)] {
        let v = try await Self.command(base, "POST", "/session/\(sessionID)/se/log", ["type": "browser"])
        return (v as? [[String: Any]] ?? []).map { (($0["level"] as? String) ?? "", ($0["message"] as? String) ?? "") }
    }

    /// A PNG of the viewport, for looking at a failure.
    public func screenshot(to path: String) async throws {
        guard let b64 = try await run("GET", "/screenshot", nil) as? String, let data = Data(base64Encoded: b64) else {
            throw Failure("no screenshot data")
        }
        try data.write(to: URL(fileURLWithPath: path))
    }

    /// The text of the alert the page opened, or nil when there is none.
    public func alertText() async -> String? {
        try? await run("GET", "/alert/text", nil) as? String
    }

    public func setWindowSize(width: Int, height: Int) async throws {
        _ = try await run("POST", "/window/rect", ["width": width, "height": height])
    }

    // MARK: Waiting

    /// Polls `check` until it returns a value or `timeout` passes.
    public func wait<T>(_ what: String, timeout: Duration = .seconds(5), every: Duration = .milliseconds(50),
                        _ check: () async throws -> T?) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        var lastError: Error?
        while true {
            do {
                if let v = try await check() { return v }
            } catch {
                lastError = error
            }
            if clock.now >= deadline {
                throw Failure("timed out after \(timeout) waiting for \(what)" + (lastError.map { " (last error: \($0))" } ?? ""))
            }
            try await Task.sleep(for: every)
        }
    }

    // MARK: Wire

    private func run(_ method: String, _ path: String, _ body: Any?) async throws -> Any {
        try await Self.command(base, method, "/session/\(sessionID)" + path, body)
    }

    private static func element(_ v: Any) -> Element? {
        (v as? [String: Any])?[elementKey].flatMap { $0 as? String }.map(Element.init)
    }

    /// One command: the answer's `value`, or the W3C error as a Failure.
    private static func command(_ port: Int, _ method: String, _ url: String, _ body: Any?) async throws -> Any {
        let (data, status) = try await send(port, method, url, body)
        let json = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) as? [String: Any]
        let value = json?["value"] ?? NSNull()
        if status != 200 {
            let v = value as? [String: Any]
            let error = v?["error"] as? String ?? "HTTP \(status)"
            let message = (v?["message"] as? String ?? String(decoding: data.prefix(500), as: UTF8.self)).split(separator: "\n").first.map(String.init) ?? ""
            throw Failure("WebDriver \(method) \(url.split(separator: "/").suffix(2).joined(separator: "/")): \(error): \(message)")
        }
        return value
    }

    /// One request on a fresh connection (`Connection: close`), on a thread of its own so no
    /// Swift-concurrency thread waits on the socket.
    private static func send(_ port: Int, _ method: String, _ path: String, _ body: Any?) async throws -> (Data, Int) {
        let payload = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nAccept: application/json\r\n"
        if body != nil { head += "Content-Type: application/json; charset=utf-8\r\n" }
        head += "Content-Length: \(payload.count)\r\n\r\n"
        let request = Array(head.utf8) + Array(payload)
        return try await withCheckedThrowingContinuation { (c: CheckedContinuation<(Data, Int), Error>) in
            Thread { c.resume(with: Result { try exchange(port, request) }) }.start()
        }
    }

    private static func exchange(_ port: Int, _ request: [UInt8]) throws -> (Data, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure("socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 120, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure("connect to 127.0.0.1:\(port): errno \(errno)") }
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw Failure("send to 127.0.0.1:\(port): errno \(errno)") }
            sent += n
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var headerEnd: Int?
        var length: Int?
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 { throw Failure("no answer from 127.0.0.1:\(port) (errno \(errno))") }
            if n == 0 { break }
            answer += buffer[0..<n]
            if headerEnd == nil, let r = answer.firstRange(of: Array("\r\n\r\n".utf8)) {
                headerEnd = r.upperBound
                let head = String(decoding: answer[..<r.lowerBound], as: UTF8.self).lowercased()
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
                }
            }
            if let headerEnd, let length, answer.count - headerEnd >= length { break }
        }
        guard let headerEnd else { throw Failure("a truncated answer from 127.0.0.1:\(port)") }
        let statusLine = String(decoding: answer[..<headerEnd], as: UTF8.self).split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        let status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        let end = length.map { min(answer.count, headerEnd + $0) } ?? answer.count
        return (Data(answer[headerEnd..<end]), status)
    }
}
