import AviaryAPI
import Foundation
import Kube
import TestSupport
import Testing
@testable import Analysis
@testable import AnalysisCore

/// `authentication.oauth2` for the web and Prometheus providers, against a
/// token endpoint served in the test: the grant, the cache, and no secret in
/// anything the run writes.
@Suite(.serialized) struct OAuth2Tests {
    static let secret = "cl1ent-s3cret+/="
    static let token = "tok-9f8e7d6c5b4a"

    let client = KubeClient(access: ClusterAccess(server: "https://127.0.0.1:1", tls: TLSSettings(), credentials: .none, source: "test"))

    func run(_ metric: Metric) -> AnalysisRun {
        // The secret comes in as an argument, as Argo users write it (here a literal, as if read from a Secret).
        AnalysisRun(metadata: ObjectMeta(name: "r", namespace: "ns"),
                    spec: AnalysisSpec(args: [AnalysisArgument(name: "oauth-secret", value: Self.secret)], metrics: [metric]))
    }

    func grant(_ tokenURL: String) -> OAuth2Config {
        OAuth2Config(tokenUrl: tokenURL, clientId: "aviary", clientSecret: "{{args.oauth-secret}}", scopes: ["metrics:read", "openid"])
    }

    @Test func theWebProviderFetchesATokenOnceAndSendsItAsBearer() async throws {
        let tokens = try RecordingReceiver(responseBody: #"{"access_token":"\#(Self.token)","token_type":"Bearer","expires_in":3600}"#)
        defer { tokens.stop() }
        let api = try RecordingReceiver(responseBody: #"{"ok":true}"#)
        defer { api.stop() }
        var web = WebMetric(url: api.url("/check"), jsonPath: "$.ok")
        web.authentication = WebAuthentication(oauth2: grant(tokens.url("/oauth2/token")))
        let metric = Metric(name: "ok", successCondition: "result == true", provider: MetricProvider(web: web))
        let measurer = Measurer(client: client, bulkhead: Bulkhead(limit: 2))
        for _ in 0..<3 {
            let m = await measurer.measure(metric, plan: try MetricPlan(metric), run: run(metric), number: 1, now: KubeTime.now())
            #expect(m.phase == .Successful, "\(m.message ?? "")")
        }
        let grants = await tokens.waitFor(count: 1)
        #expect(tokens.requests.count == 1, "the token is cached until it expires")
        #expect(grants.first?.method == "POST")
        #expect(grants.first?.path == "/oauth2/token")
        #expect(grants.first?.header("content-type") == "application/x-www-form-urlencoded")
        #expect(grants.first?.bodyText == "grant_type=client_credentials&client_id=aviary&client_secret=cl1ent-s3cret%2B%2F%3D&scope=metrics%3Aread%20openid")
        let calls = await api.waitFor(count: 3)
        #expect(calls.allSatisfy { $0.header("authorization") == "Bearer \(Self.token)" })
    }

    @Test func prometheusTooAndAFailedMeasurementFetchesAFreshToken() async throws {
        let tokens = try RecordingReceiver(responseBody: #"{"access_token":"\#(Self.token)","expires_in":"600"}"#)
        defer { tokens.stop() }
        let prometheus = try RecordingReceiver(script: .sequence([200, 401, 200]),
                                               responseBody: #"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"1"]}]}}"#)
        defer { prometheus.stop() }
        var prom = PrometheusMetric(address: prometheus.url(), query: "up")
        prom.authentication = PrometheusAuthentication(oauth2: grant(tokens.url("/token")))
        let metric = Metric(name: "up", successCondition: "result[0] == 1", provider: MetricProvider(prometheus: prom))
        let measurer = Measurer(client: client, bulkhead: Bulkhead(limit: 2))
        var phases: [AnalysisPhase] = []
        for _ in 0..<3 {
            phases.append(await measurer.measure(metric, plan: try MetricPlan(metric), run: run(metric), number: 1, now: KubeTime.now()).phase)
        }
        #expect(phases == [.Successful, .Error, .Successful])
        #expect(tokens.requests.count == 2, "the 401 dropped the cached token, so the next measurement asked again")
        #expect(prometheus.requests.allSatisfy { $0.header("authorization") == "Bearer \(Self.token)" })
    }

    @Test func aRefusedGrantSaysWhereAndWhatButNeverTheSecret() async throws {
        let tokens = try RecordingReceiver(script: .always(401),
                                           responseBody: #"{"error":"invalid_client","error_description":"client_secret \#(Self.secret) is wrong"}"#)
        defer { tokens.stop() }
        var web = WebMetric(url: "http://127.0.0.1:1/never")
        web.authentication = WebAuthentication(oauth2: grant(tokens.url("/token")))
        let metric = Metric(name: "ok", successCondition: "result == true", provider: MetricProvider(web: web))
        let m = await Measurer(client: client, bulkhead: Bulkhead(limit: 1)).measure(metric, plan: try MetricPlan(metric), run: run(metric),
                                                                                    number: 1, now: KubeTime.now())
        #expect(m.phase == .Error)
        #expect(m.message == "web authentication.oauth2: oauth2 token endpoint at \(tokens.url()): HTTP 401: invalid_client: "
                + "client_secret ***** is wrong; check clientId, clientSecret and scopes")
    }

    @Test func aTokenEndpointIsHardenedLikeAProvider() async throws {
        let settings = ProviderSettings(allow: try AddressPolicy(parsing: ["10.0.0.0/8"]))
        let e = await #expect(throws: ProviderError.self) {
            _ = try await OAuth2Tokens().token(grant("http://127.0.0.1:9/token"), timeout: .seconds(5), insecure: false, settings: settings)
        }
        #expect(e?.message.hasPrefix("oauth2 token endpoint at http://127.0.0.1:9: address 127.0.0.1 is not allowed by --provider-allow") == true)
        let scheme = await #expect(throws: ProviderError.self) {
            _ = try await OAuth2Tokens().token(grant("file:///etc/passwd"), timeout: .seconds(5), insecure: false, settings: ProviderSettings())
        }
        #expect(scheme?.message.contains("the URL scheme \"file\" is not allowed") == true)
    }

    @Test func answersAreDecodedCarefully() throws {
        #expect(try OAuth2Tokens.decode(Data(#"{"access_token":"a","expires_in":99999999}"#.utf8), status: 200, server: "s") == ("a", 3600))
        #expect(try OAuth2Tokens.decode(Data(#"{"access_token":"a"}"#.utf8), status: 200, server: "s") == ("a", nil))
        #expect(try OAuth2Tokens.decode(Data(#"{"access_token":"a","expires_in":-5}"#.utf8), status: 200, server: "s") == ("a", nil))
        let missing = #expect(throws: ProviderError.self) { try OAuth2Tokens.decode(Data("<html>".utf8), status: 200, server: "s") }
        #expect(missing?.message == "oauth2 token endpoint at s: HTTP 200 without an access_token in a JSON body; "
                + "tokenUrl must be the token endpoint of a client-credentials grant")
        let injected = #expect(throws: ProviderError.self) {
            try OAuth2Tokens.decode(Data(#"{"access_token":"a\r\nX-Admin: 1"}"#.utf8), status: 200, server: "s")
        }
        #expect(injected?.message.contains("control characters") == true)
    }

    @Test func theCacheExpiresAndIsBounded() async throws {
        let tokens = try RecordingReceiver(responseBody: #"{"access_token":"t","expires_in":60}"#)
        defer { tokens.stop() }
        let clock = Clock()
        let cache = OAuth2Tokens(now: { clock.now })
        let g = grant(tokens.url("/t"))
        _ = try await cache.token(g, timeout: .seconds(5), insecure: false, settings: ProviderSettings())
        clock.now += 53
        _ = try await cache.token(g, timeout: .seconds(5), insecure: false, settings: ProviderSettings())
        #expect(tokens.requests.count == 1, "fresh until 6 s (a tenth) before expiry")
        clock.now += 1
        _ = try await cache.token(g, timeout: .seconds(5), insecure: false, settings: ProviderSettings())
        #expect(tokens.requests.count == 2)
    }

    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Int64 = 1_000
        var now: Int64 {
            get { lock.withLock { value } }
            set { lock.withLock { value = newValue } }
        }
    }
}
