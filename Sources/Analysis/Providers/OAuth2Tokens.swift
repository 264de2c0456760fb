import AviaryAPI
import Foundation
import Kube
import Synchronization

/// OAuth2 client-credentials tokens for the Prometheus and web providers
/// (`authentication.oauth2`): fetched from `tokenUrl` through the curl engine
/// with the same hardening as a measurement (http/https only, no redirects,
/// `--provider-allow`, the answer cap, a timeout), and cached until shortly
/// before they expire, so a metric measured every 30 s does not ask for a
/// token every 30 s.
///
/// The client id and secret go in the form body (RFC 6749 §2.3.1, one
/// method only). The token is returned to the caller, who registers it as a
/// secret for redaction; this type never logs or stores it anywhere but the
/// cache, which is keyed by everything that identifies the grant.
public final class OAuth2Tokens: Sendable {
    public static let shared = OAuth2Tokens()

    struct Key: Hashable, Sendable {
        var tokenURL: String
        var clientID: String
        var clientSecret: String
        var scopes: [String]
    }

    struct Entry: Sendable {
        var token: String
        /// Seconds since the epoch after which it is fetched again.
        var refreshAt: Int64
    }

    /// Grants cached at most; past it, expired ones go first, then all.
    static let maxEntries = 1024
    /// A token without `expires_in` is kept this long (and none longer).
    static let maxLifetime: Int64 = 3600
    /// How long before its expiry a token is replaced.
    static let margin: Int64 = 30

    let cache = Mutex<[Key: Entry]>([:])
    let now: @Sendable () -> Int64

    public init(now: @escaping @Sendable () -> Int64 = { KubeTime.now().secondsSinceEpoch }) {
        self.now = now
    }

    /// A token for this grant: the cached one while it is fresh, else a new one.
    public func token(_ config: OAuth2Config, timeout: Duration, insecure: Bool, settings: ProviderSettings) async throws -> String {
        let key = Self.key(config)
        let t = now()
        if let hit = cache.withLock({ $0[key] }), hit.refreshAt > t { return hit.token }
        let (token, lifetime) = try await fetch(config, timeout: timeout, insecure: insecure, settings: settings)
        let keep = min(lifetime ?? Self.maxLifetime, Self.maxLifetime)
        let refreshAt = t + max(0, keep - min(Self.margin, keep / 10))
        cache.withLock { cache in
            if cache.count >= Self.maxEntries { cache = cache.filter { $0.value.refreshAt > t } }
            if cache.count >= Self.maxEntries { cache.removeAll() }
            cache[key] = Entry(token: token, refreshAt: refreshAt)
        }
        return token
    }

    /// Drops a grant's token (a measurement with it failed: it may have been revoked).
    public func forget(_ config: OAuth2Config) {
        let key = Self.key(config)
        _ = cache.withLock { $0.removeValue(forKey: key) }
    }

    static func key(_ c: OAuth2Config) -> Key {
        Key(tokenURL: c.tokenUrl, clientID: c.clientId ?? "", clientSecret: c.clientSecret ?? "", scopes: c.scopes ?? [])
    }

    /// The token request: a form POST. Pure, so it is tested.
    static func request(_ config: OAuth2Config, timeout: Duration, insecure: Bool, settings: ProviderSettings) -> HTTPRequest {
        var form = [("grant_type", "client_credentials")]
        if let id = config.clientId, !id.isEmpty { form.append(("client_id", id)) }
        if let secret = config.clientSecret, !secret.isEmpty { form.append(("client_secret", secret)) }
        let scopes = (config.scopes ?? []).filter { !$0.isEmpty }
        if !scopes.isEmpty { form.append(("scope", scopes.joined(separator: " "))) }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        return HTTPRequest(method: "POST", url: config.tokenUrl,
                           headers: ["Accept: application/json", "Content-Type: application/x-www-form-urlencoded"],
                           body: Data(body.utf8), tls: TLSSettings(insecureSkipVerify: insecure), timeout: timeout, connectTimeout: timeout,
                           allowedProtocols: HTTPRequest.httpOrHTTPS, maxResponseBytes: settings.maxResponseBytes, addressPolicy: settings.allow)
    }

    func fetch(_ config: OAuth2Config, timeout: Duration, insecure: Bool, settings: ProviderSettings) async throws -> (String, Int64?) {
        guard !config.tokenUrl.isEmpty else {
            throw ProviderError("authentication.oauth2.tokenUrl is required, e.g. https://auth.example.com/oauth2/token")
        }
        let request = Self.request(config, timeout: timeout, insecure: insecure, settings: settings)
        let what = "oauth2 token endpoint"
        let response: HTTPResponse
        do {
            response = try await CurlEngine.shared.perform(request)
        } catch {
            throw ProviderError.from(error, provider: what, server: request.server)
        }
        if (300..<400).contains(response.status) {
            throw ProviderError.redirect(provider: what, server: request.server, status: response.status, location: response.headers["location"])
        }
        return try Self.decode(response.body, status: response.status, server: request.server)
    }

    /// The endpoint's answer: the token and its lifetime in seconds. Pure.
    static func decode(_ body: Data, status: Int, server: String) throws -> (String, Int64?) {
        let json = try? JSONDecoder().decode(JSONValue.self, from: body)
        guard (200..<300).contains(status) else {
            // RFC 6749 §5.2: `error` and `error_description`, cut short; the caller redacts the client secret.
            let reason = [json?["error"]?.stringValue, json?["error_description"]?.stringValue].compactMap { $0 }.joined(separator: ": ")
            let said = reason.isEmpty ? "" : ": \(ValueText.truncated(reason, limit: 256))"
            let advice = status == 400 || status == 401 ? "; check clientId, clientSecret and scopes" : ""
            throw ProviderError("oauth2 token endpoint at \(server): HTTP \(status)\(said)\(advice)")
        }
        guard let token = json?["access_token"]?.stringValue, !token.isEmpty else {
            throw ProviderError("oauth2 token endpoint at \(server): HTTP \(status) without an access_token in a JSON body; "
                                + "tokenUrl must be the token endpoint of a client-credentials grant")
        }
        guard !token.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) else {
            throw ProviderError("oauth2 token endpoint at \(server): the access_token has control characters, so it cannot be sent")
        }
        var lifetime: Int64?
        switch json?["expires_in"] {
        case .number(let n)? where n.isFinite && n >= 0: lifetime = n < Double(Self.maxLifetime) ? Int64(n) : Self.maxLifetime
        case .string(let s)?: lifetime = Int64(s).map { max(0, min($0, Self.maxLifetime)) }
        default: lifetime = nil
        }
        return (token, lifetime)
    }
}
