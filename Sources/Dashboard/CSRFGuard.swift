import Foundation

/// What a write must carry so that only this dashboard's own page can send
/// it. Pure, so every rule is unit-tested.
///
/// - `X-Aviary-CSRF`: the per-process token that `GET /api/session` gives
///   the page (another site cannot read that answer: no CORS), compared in
///   constant time.
/// - `Content-Type: application/json`: a plain HTML form cannot send it, and
///   a script on another site cannot without a CORS preflight we never allow.
/// - `Origin`, when the browser sends it, naming this server (the Host asked
///   for); `Sec-Fetch-Site`, when sent, saying `same-origin`.
public struct CSRFGuard: Sendable {
    public static let header = "X-Aviary-CSRF"
    public let token: String

    public init(token: String = CSRFGuard.randomToken()) {
        self.token = token
    }

    /// 32 random bytes from the system's generator, as hex.
    public static func randomToken() -> String {
        var rng = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &rng)) }.joined()
    }

    /// Why a write is refused (what happened, why, what next), or nil.
    public func refusal(csrf: String?, contentType: String?, origin: String?, fetchSite: String?, host: String?) -> String? {
        guard let csrf, AccessPolicy.constantTimeEqual(csrf, token) else {
            return "refused: this request lacks the dashboard's \(Self.header) header (or it is stale); "
                + "actions are sent by the dashboard's own page: reload it and try again"
        }
        let type = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard type == "application/json" else {
            return "refused: an action must be sent as Content-Type: application/json (this one was \(contentType.map { "\($0.prefix(100))" } ?? "none"))"
        }
        if let origin, !Self.sameOrigin(origin, host: host) {
            return "refused: this request comes from a page at \(origin.prefix(200)), not from this dashboard; only the dashboard's own page may act"
        }
        if let fetchSite, fetchSite.lowercased() != "same-origin" {
            return "refused: the browser says this request comes from another site (Sec-Fetch-Site: \(fetchSite.prefix(40))); only the dashboard's own page may act"
        }
        return nil
    }

    /// Why `GET /api/session` (which hands out the token) is refused, or nil:
    /// another site's page may not ask (`Sec-Fetch-Site` other than same-origin or none, or a foreign `Origin`).
    public func sessionRefusal(origin: String?, fetchSite: String?, host: String?) -> String? {
        if let origin, !Self.sameOrigin(origin, host: host) {
            return "refused: the session is for the dashboard's own page, and this request comes from \(origin.prefix(200))"
        }
        if let fetchSite, !["same-origin", "none"].contains(fetchSite.lowercased()) {
            return "refused: the session is for the dashboard's own page, and the browser says this request comes from another site (Sec-Fetch-Site: \(fetchSite.prefix(40)))"
        }
        return nil
    }

    /// `http://HOST` or `https://HOST` (behind a TLS proxy), HOST the request's Host header, port included.
    static func sameOrigin(_ origin: String, host: String?) -> Bool {
        guard let host = host?.trimmingCharacters(in: .whitespaces).lowercased(), !host.isEmpty, host.utf8.count <= 300 else { return false }
        let o = origin.trimmingCharacters(in: .whitespaces).lowercased()
        return o == "http://" + host || o == "https://" + host
    }
}
