import Foundation

/// Who may talk to the dashboard, decided per request before anything else
/// runs. Pure, so every rule is unit-tested.
///
/// - Only GET and HEAD (405 otherwise); with `--allow-actions`, POST too (to the action routes only).
/// - Without a token, the Host header must name this server (an IP literal,
///   `localhost`, or the `--address` name, with the bound port): a page on
///   another site that rebinds its DNS name to 127.0.0.1 sends its own name
///   and is refused. With a token any name will do (the token is the guard).
/// - With a token, a request needs `Authorization: Bearer <token>` or the
///   `aviary_dashboard` cookie that `/login?token=…` sets; compared in constant time.
public struct AccessPolicy: Sendable {
    public static let cookieName = "aviary_dashboard"

    public enum Refusal: Equatable, Sendable {
        case method(String)
        case host(String)
        case unauthorized
    }

    /// The `--address` as given (a name or an IP literal).
    public var address: String
    public var port: UInt16
    /// nil: no authentication (loopback, or `--insecure-no-auth`).
    public var token: String?
    /// In-cluster mode: every request must present a token (bearer or cookie), and the
    /// API server, not this policy, decides whose it is (`ViewerGate`); any Host will do.
    public var reviewsTokens = false
    /// `--allow-actions`: POST too (the action routes; `CSRFGuard` and `DashboardActions` decide the rest).
    public var allowsActions = false

    public init(address: String, port: UInt16, token: String?) {
        self.address = address
        self.port = port
        self.token = token
    }

    /// Checks what a request may be refused for, in the order a client would want to hear it.
    public func check(method: String, host: String?, authorization: String?, cookie: String?) -> Refusal? {
        guard method == "GET" || method == "HEAD" || (allowsActions && method == "POST") else { return .method(method) }
        // With a token, a rebinding page has no way to present it (the cookie belongs to this origin), and the
        // server may be reached by any name it has; without one, the Host is all that tells this origin from another.
        if token == nil, !reviewsTokens { guard let host, hostAllowed(host) else { return .host(host ?? "") } }
        if reviewsTokens { return Self.presentedToken(authorization: authorization, cookie: cookie) == nil ? .unauthorized : nil }
        guard token == nil || authenticated(authorization: authorization, cookie: cookie) else { return .unauthorized }
        return nil
    }

    /// Whether `/login?token=` was given the right token.
    public func tokenMatches(_ presented: String) -> Bool {
        guard let token else { return false }
        return Self.constantTimeEqual(presented, token)
    }

    /// The token a request presents, for review: `Authorization: Bearer`, else the first `aviary_dashboard` cookie.
    public static func presentedToken(authorization: String?, cookie: String?) -> String? {
        if let authorization, authorization.utf8.count <= 8_192 {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer" {
                let token = parts[1].trimmingCharacters(in: .whitespaces)
                if !token.isEmpty { return token }
            }
        }
        if let cookie, cookie.utf8.count <= 16_384 {
            for pair in cookie.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces) == cookieName {
                    let token = kv[1].trimmingCharacters(in: .whitespaces)
                    if !token.isEmpty { return token }
                }
            }
        }
        return nil
    }

    func authenticated(authorization: String?, cookie: String?) -> Bool {
        guard let token else { return true }
        if let authorization, authorization.utf8.count <= 4_096 {
            let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            if parts.count == 2, parts[0].lowercased() == "bearer", Self.constantTimeEqual(String(parts[1]).trimmingCharacters(in: .whitespaces), token) {
                return true
            }
        }
        if let cookie, cookie.utf8.count <= 8_192 {
            for pair in cookie.split(separator: ";") {
                let kv = pair.split(separator: "=", maxSplits: 1)
                if kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces) == Self.cookieName,
                   Self.constantTimeEqual(String(kv[1]).trimmingCharacters(in: .whitespaces), token) {
                    return true
                }
            }
        }
        return false
    }

    /// `host[:port]`, where host is an IP literal (v4, or v6 in brackets),
    /// `localhost`, or the `--address` given; the port, when present, must be ours.
    func hostAllowed(_ header: String) -> Bool {
        let value = header.trimmingCharacters(in: .whitespaces).lowercased()
        guard !value.isEmpty, value.utf8.count <= 300 else { return false }
        var name = value
        var portText: Substring?
        if value.hasPrefix("[") {
            guard let close = value.firstIndex(of: "]") else { return false }
            name = String(value[value.index(after: value.startIndex)..<close])
            let rest = value[value.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return false }
                portText = rest.dropFirst()
            }
            guard Self.isIPv6(name) else { return false }
        } else if let colon = value.lastIndex(of: ":") {
            name = String(value[..<colon])
            portText = value[value.index(after: colon)...]
        }
        if let portText {
            guard let p = UInt16(portText), p == port else { return false }
        }
        if name == "localhost" || Self.isIPv4(name) || Self.isIPv6(name) { return true }
        return name == address.lowercased()
    }

    static func isIPv4(_ s: String) -> Bool {
        var a = in_addr()
        return s.utf8.count <= 15 && inet_pton(AF_INET, s, &a) == 1
    }

    static func isIPv6(_ s: String) -> Bool {
        var a = in6_addr()
        return s.utf8.count <= 45 && inet_pton(AF_INET6, s, &a) == 1
    }

    /// Every byte is compared whatever the first difference, so the time taken says nothing about the token.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(truncatingIfNeeded: x.count ^ y.count) | (x.count == y.count ? 0 : 1)
        let n = max(x.count, y.count)
        for i in 0..<n {
            let p: UInt8 = i < x.count ? x[i] : 0
            let q: UInt8 = i < y.count ? y[i] : 0
            diff |= p ^ q
        }
        return diff == 0
    }
}

/// Where the dashboard may listen, decided before it starts: loopback by
/// default; anywhere else only with a token or an explicit opt-out.
public enum BindRule {
    public struct Refused: Error, CustomStringConvertible {
        public var description: String
    }

    /// Loopback: 127.0.0.0/8, ::1, localhost.
    public static func isLoopback(_ address: String) -> Bool {
        let a = address.lowercased()
        if a == "localhost" || a == "::1" || a == "[::1]" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, a, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        return false
    }

    /// Throws, naming the flag to add, when a non-loopback address has neither a token nor `--insecure-no-auth`.
    public static func check(address: String, hasToken: Bool, insecureNoAuth: Bool) throws(Refused) {
        if isLoopback(address) || hasToken || insecureNoAuth { return }
        throw Refused(description: "--address \(address) is not a loopback address, so anyone who can reach it would see every Rollout "
                      + "this kubeconfig can read: add --token-file FILE (a bearer token the browser must present; open /login?token=… once) "
                      + "or, on a network you trust, --insecure-no-auth")
    }

    /// The token in a file: its first line, trimmed; at least 16 characters, so it cannot be guessed.
    public static func token(file path: String) throws(Refused) -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 64 * 1_024 else {
            throw Refused(description: "--token-file \(path) cannot be read (or is larger than 64 KiB); write a random token into it, "
                          + "e.g. `openssl rand -hex 32 > \(path)`")
        }
        let text = String(decoding: data, as: UTF8.self)
        let token = text.split(whereSeparator: \.isNewline).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard token.count >= 16, token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != ";" && $0 != "," }) else {
            throw Refused(description: "--token-file \(path) must hold a token of at least 16 printable ASCII characters without spaces, ';' or ',' "
                          + "(e.g. `openssl rand -hex 32 > \(path)`)")
        }
        return token
    }
}
