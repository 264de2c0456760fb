import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP server on 127.0.0.1 for tests, on one thread of its own: each
/// connection gets `respond(request head)` written back, then is closed.
public final class TinyHTTPServer: @unchecked Sendable {
    public let port: Int
    private let listener: Int32
    private let respond: @Sendable (String) -> [UInt8]
    private let lock = NSLock()
    private var accepted = 0
    private let finished = DispatchSemaphore(value: 0)

    /// Connections accepted so far.
    public var connections: Int { lock.withLock { accepted } }

    public init(respond: @escaping @Sendable (String) -> [UInt8]) throws {
        let (fd, port) = try Loopback.listen()
        self.port = port
        listener = fd
        self.respond = respond
        let thread = Thread { [self] in serve() }
        thread.start()
    }

    /// A whole response: status line, headers, then the body.
    public static func response(_ status: String, headers: [String] = [], body: [UInt8]) -> [UInt8] {
        Array((["HTTP/1.1 \(status)"] + headers + ["Connection: close", "", ""]).joined(separator: "\r\n").utf8) + body
    }

    private func serve() {
        while true {
            let c = accept(listener, nil, nil)
            if c < 0 {
                // Closed here, not in stop(): the descriptor is never reused while this thread still uses it.
                close(listener)
                finished.signal()
                return
            }
            lock.withLock { accepted += 1 }
            var head: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while String(decoding: head, as: UTF8.self).range(of: "\r\n\r\n") == nil {
                let n = recv(c, &buffer, buffer.count, 0)
                if n <= 0 { break }
                head += buffer[0..<n]
            }
            let out = respond(String(decoding: head, as: UTF8.self))
            out.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                var offset = 0
                while offset < raw.count {
                    let n = send(c, base + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                    if n <= 0 { break }
                    offset += n
                }
            }
            close(c)
        }
    }

    /// Stops accepting and waits until the server thread has let go of the socket.
    public func stop() {
        _ = shutdown(listener, Int32(SHUT_RDWR))
        finished.wait()
    }
}
