import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 client over a plain socket to 127.0.0.1, for tests
/// that must control every header (Host, Authorization, the method) and read
/// a stream as it arrives. Runs on a thread of its own, never a Swift
/// concurrency one.
public enum RawHTTP {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String
    }

    /// One request with `Connection: close`; the answer read to its end (at most `timeout`).
    public static func request(port: Int, _ path: String, method: String = "GET", headers: [String: String] = [:],
                               timeout: Double = 10) async throws -> Response {
        let raw = try await run(port: port, method: method, path: path, headers: headers, timeout: timeout) { _ in false }
        return parse(raw)
    }

    /// Reads a streaming answer until `until` says the text so far is enough (asked on each arrival and every 200 ms), or `timeout`; returns the text read.
    public static func stream(port: Int, _ path: String, headers: [String: String] = [:], timeout: Double,
                              until: @escaping @Sendable (String) -> Bool) async throws -> String {
        try await run(port: port, method: "GET", path: path, headers: headers, timeout: timeout, until: until)
    }

    static func run(port: Int, method: String, path: String, headers: [String: String], timeout: Double,
                    until: @escaping @Sendable (String) -> Bool) async throws -> String {
        try await withCheckedThrowingContinuation { (k: CheckedContinuation<String, Error>) in
            Thread.detachNewThread {
                k.resume(with: Result { try blocking(port: port, method: method, path: path, headers: headers, timeout: timeout, until: until) })
            }
        }
    }

    static func blocking(port: Int, method: String, path: String, headers: [String: String], timeout: Double,
                         until: (String) -> Bool) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = UInt16(port).bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        var all = headers
        if all.keys.first(where: { $0.lowercased() == "host" }) == nil { all["Host"] = "127.0.0.1:\(port)" }
        all["Connection"] = "close"
        let head = "\(method) \(path) HTTP/1.1\r\n" + all.map { "\($0.key): \($0.value)\r\n" }.joined() + "\r\n"
        _ = head.withCString { send(fd, $0, strlen($0), 0) }
        let deadline = Date().addingTimeInterval(timeout)
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while Date() < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let wait = Int32(max(1, min(200, deadline.timeIntervalSinceNow * 1_000)))
            guard poll(&p, 1, wait) >= 0 else { break }
            // `until` is asked on every tick too, so a caller can end a quiet stream.
            if p.revents == 0 { if until(String(decoding: data, as: UTF8.self)) { break }; continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
            if until(String(decoding: data, as: UTF8.self)) { break }
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Status, headers (lower-cased names) and body (de-chunked when chunked).
    public static func parse(_ raw: String) -> Response {
        guard let split = raw.range(of: "\r\n\r\n") else { return Response(status: 0, headers: [:], body: raw) }
        let lines = raw[..<split.lowerBound].components(separatedBy: "\r\n")
        let status = lines.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            // A repeated field is one list (RFC 9110 §5.3).
            let name = line[..<colon].lowercased(), value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { "\($0), \(value)" } ?? value
        }
        var body = String(raw[split.upperBound...])
        if headers["transfer-encoding"] == "chunked" { body = dechunk(body) }
        return Response(status: status, headers: headers, body: body)
    }

    static func dechunk(_ s: String) -> String {
        // On bytes: to a String "\r\n" is one Character.
        var rest = Array(s.utf8)[...]
        var out: [UInt8] = []
        while let cr = rest.firstIndex(of: 13), cr + 1 < rest.endIndex, rest[cr + 1] == 10,
              let size = Int(String(decoding: rest[rest.startIndex..<cr], as: UTF8.self), radix: 16), size > 0 {
            let start = cr + 2
            guard rest.endIndex - start >= size else { out += rest[start...]; break }
            out += rest[start..<(start + size)]
            rest = rest[min(rest.endIndex, start + size + 2)...]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
