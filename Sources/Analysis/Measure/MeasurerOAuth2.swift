import AviaryAPI
import Kube

/// `authentication.oauth2` and `rangeQuery` for the Measurer's providers:
/// arguments substituted, secrets registered for redaction.
extension Measurer {
    /// The grant with `{{args.x}}` substituted, and its `Authorization: Bearer`
    /// line. The client secret and the token are registered as secrets, so
    /// no message, value or log line the run writes can carry them.
    func bearer(_ written: OAuth2Config, provider: String, args: inout Arguments, timeout: Duration,
                insecure: Bool) async throws -> (OAuth2Config, String) {
        let config = OAuth2Config(tokenUrl: try args.substitute(written.tokenUrl), clientId: try written.clientId.map(args.substitute),
                                  clientSecret: try written.clientSecret.map(args.substitute), scopes: try written.scopes?.map(args.substitute))
        if let secret = config.clientSecret { args.addSecret(secret) }
        let token: String
        do {
            token = try await OAuth2Tokens.shared.token(config, timeout: timeout, insecure: insecure, settings: settings)
        } catch let e as ProviderError {
            throw ProviderError("\(provider) authentication.oauth2: \(e.message)", transport: e.transport)
        }
        args.addSecret(token)
        let lines = try HeaderLines.make([(key: "Authorization", value: "Bearer \(token)")], provider: "\(provider) authentication.oauth2")
        return (config, lines.joined())
    }

    /// A failed measurement drops the grant's cached token, so a revoked or
    /// rotated one is replaced at the next measurement rather than at expiry.
    static func forgettingOnFailure(_ grant: OAuth2Config?, _ call: @Sendable () async throws -> JSONValue) async throws -> JSONValue {
        do { return try await call() } catch {
            if let grant { OAuth2Tokens.shared.forget(grant) }
            throw error
        }
    }

    /// `rangeQuery` with arguments substituted, resolved against now.
    func window(_ q: PrometheusRangeQuery?, args: Arguments) throws -> RangeWindow? {
        guard let q else { return nil }
        let substituted = PrometheusRangeQuery(start: try q.start.map(args.substitute), end: try q.end.map(args.substitute),
                                               step: try q.step.map(args.substitute))
        do { return try RangeWindow.resolve(substituted, now: KubeTime.now().secondsSinceEpoch) } catch {
            throw ProviderError("prometheus: \(error)")
        }
    }
}
