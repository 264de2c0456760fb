/// An OAuth2 client-credentials grant (RFC 6749 §4.4), with Argo's field
/// names. The secret is usually `{{args.name}}` of an argument read from a
/// Secret, so it is redacted like one; the token fetched with it is never
/// written anywhere but the provider request.
public struct OAuth2Config: Codable, Sendable, Hashable {
    public var tokenUrl: String
    public var clientId: String?
    public var clientSecret: String?
    public var scopes: [String]?

    public init(tokenUrl: String, clientId: String? = nil, clientSecret: String? = nil, scopes: [String]? = nil) {
        self.tokenUrl = tokenUrl
        self.clientId = clientId
        self.clientSecret = clientSecret
        self.scopes = scopes
    }
}

/// A web metric's `authentication`: only `oauth2` (a header with a secret
/// argument covers the rest).
public struct WebAuthentication: Codable, Sendable, Hashable {
    public var oauth2: OAuth2Config?

    public init(oauth2: OAuth2Config? = nil) { self.oauth2 = oauth2 }
}

extension PrometheusAuthentication {
    public init(oauth2: OAuth2Config) {
        self.init(bearer: nil, basic: nil, oauth2: oauth2)
    }
}
