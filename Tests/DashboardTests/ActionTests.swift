import AviaryAPI
import Dashboard
import FlyingFox
import Foundation
import Kube
import KubeAPI
import Logging
import Rollouts
import Testing
import TestSupport

/// `--allow-actions`: the CSRF rules, the routes, the bodies, and refusals in words.
@Suite struct ActionTests {
    static let token = String(repeating: "c", count: 64)
    static let guardian = CSRFGuard(token: token)

    // MARK: CSRF

    @Test func csrfNeedsTheTokenJSONAndThisOrigin() {
        let g = Self.guardian
        let host = "127.0.0.1:3100"
        #expect(g.refusal(csrf: Self.token, contentType: "application/json", origin: nil, fetchSite: nil, host: host) == nil)
        #expect(g.refusal(csrf: Self.token, contentType: "application/json; charset=utf-8", origin: "http://127.0.0.1:3100", fetchSite: "same-origin", host: host) == nil)
        #expect(g.refusal(csrf: Self.token, contentType: "application/json", origin: "https://127.0.0.1:3100", fetchSite: nil, host: host) == nil)
        #expect(g.refusal(csrf: nil, contentType: "application/json", origin: nil, fetchSite: nil, host: host)?.contains("X-Aviary-CSRF") == true)
        #expect(g.refusal(csrf: Self.token + "x", contentType: "application/json", origin: nil, fetchSite: nil, host: host) != nil)
        #expect(g.refusal(csrf: "", contentType: "application/json", origin: nil, fetchSite: nil, host: host) != nil)
        // A plain form's types.
        for type in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", nil] as [String?] {
            #expect(g.refusal(csrf: Self.token, contentType: type, origin: nil, fetchSite: nil, host: host)?.contains("Content-Type: application/json") == true)
        }
        // Another site's page, or a rebinding one (its Origin names it, not the Host it reached).
        #expect(g.refusal(csrf: Self.token, contentType: "application/json", origin: "http://evil.example", fetchSite: nil, host: host)?.contains("evil.example") == true)
        #expect(g.refusal(csrf: Self.token, contentType: "application/json", origin: "http://127.0.0.1:3101", fetchSite: nil, host: host) != nil)
        #expect(g.refusal(csrf: Self.token, contentType: "application/json", origin: "null", fetchSite: nil, host: host) != nil)
        #expect(g.refusal(csrf: Self.token, contentType: "application/json", origin: "http://127.0.0.1:3100", fetchSite: nil, host: nil) != nil)
        #expect(g.refusal(csrf: Self.token, contentType: "application/json", origin: nil, fetchSite: "cross-site", host: host)?.contains("another site") == true)
        #expect(g.refusal(csrf: Self.token, contentType: "application/json", origin: nil, fetchSite: "same-site", host: host) != nil)
    }

    @Test func theSessionIsForThisOriginOnly() {
        let g = Self.guardian
        #expect(g.sessionRefusal(origin: nil, fetchSite: "same-origin", host: "127.0.0.1:3100") == nil)
        #expect(g.sessionRefusal(origin: nil, fetchSite: "none", host: "127.0.0.1:3100") == nil)
        #expect(g.sessionRefusal(origin: nil, fetchSite: nil, host: "127.0.0.1:3100") == nil)
        #expect(g.sessionRefusal(origin: nil, fetchSite: "cross-site", host: "127.0.0.1:3100") != nil)
        #expect(g.sessionRefusal(origin: "http://evil.example", fetchSite: nil, host: "127.0.0.1:3100") != nil)
    }

    @Test func tokensAreRandomAndLong() {
        let a = CSRFGuard.randomToken(), b = CSRFGuard.randomToken()
        #expect(a.count == 64 && a.allSatisfy(\.isHexDigit))
        #expect(a != b)
        #expect(CSRFGuard().token != CSRFGuard().token)
    }

    // MARK: Bodies

    static func action(_ verb: DashboardActions.Verb, _ body: String) -> Result<UserAction, DashboardActions.Refused> {
        DashboardActions.action(verb, body: Data(body.utf8), now: KubeTime(secondsSinceEpoch: 0))
    }

    @Test func bodiesBecomeUserActions() throws {
        #expect(try Self.action(.promote, "").get() == .promote)
        #expect(try Self.action(.promote, "{}").get() == .promote)
        #expect(try Self.action(.promoteFull, "{}").get() == .promoteFull)
        #expect(try Self.action(.abort, "{}").get() == .abort)
        #expect(try Self.action(.retry, "{}").get() == .retry)
        #expect(try Self.action(.restart, "{}").get() == .restart(at: KubeTime(secondsSinceEpoch: 0)))
        #expect(try Self.action(.undo, "{}").get() == .undo(toRevision: nil))
        #expect(try Self.action(.undo, #"{"revision": 3}"#).get() == .undo(toRevision: 3))
        #expect(try Self.action(.setImage, #"{"container": "web", "image": "registry.example/web:2.0"}"#).get()
                == .setImage(container: "web", image: "registry.example/web:2.0"))
    }

    @Test func badBodiesAreRefusedInWords() {
        let cases: [(DashboardActions.Verb, String, String)] = [
            (.promote, "[]", "JSON object"),
            (.promote, "not json", "JSON object"),
            (.undo, #"{"revision": 0}"#, "not a revision number"),
            (.undo, #"{"revision": 1.5}"#, "whole number"),
            (.undo, #"{"revision": "2"}"#, "whole number"),
            (.setImage, "{}", "both strings"),
            (.setImage, #"{"container": "web"}"#, "both strings"),
            (.setImage, #"{"container": "Web App", "image": "x"}"#, "not a container name"),
            (.setImage, #"{"container": "web", "image": "a b"}"#, "without spaces"),
            (.setImage, #"{"container": "web", "image": "x\n"}"#, "without spaces"),
            (.setImage, #"{"container": "web", "image": ""}"#, "1 to 1024"),
        ]
        for (verb, body, words) in cases {
            guard case .failure(let refused) = Self.action(verb, body) else { Issue.record("\(verb) \(body) was accepted"); continue }
            #expect(refused.status == 400)
            #expect(refused.description.contains(words), "\(verb) \(body): \(refused.description)")
        }
    }

    // MARK: Failures in words

    static func error(_ reply: DashboardAPI.Reply) -> String {
        ((try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any])?["error"] as? String ?? ""
    }

    @Test func refusalsSayWhatHappened() {
        let forbidden = KubeError.api(code: 403, status: Status(message: "rollouts.aviary.dev \"web\" is forbidden: User \"ann\" cannot patch resource \"rollouts/status\"", reason: "Forbidden", code: 403))
        let r = DashboardActions.failure(forbidden, verb: .promote, namespace: "shop", name: "web")
        #expect(r.status == 403)
        #expect(Self.error(r).hasPrefix("could not promote shop/web: the API server refused (403 Forbidden): rollouts.aviary.dev \"web\" is forbidden: User \"ann\""))
        #expect(Self.error(r).contains("kubectl auth can-i patch rollouts.aviary.dev --subresource=status -n shop"))
        let none = DashboardActions.failure(UserActionError.noPreviousRevision, verb: .undo, namespace: "shop", name: "web")
        #expect(none.status == 409 && Self.error(none) == "could not undo shop/web: no previous revision to go back to")
        let gone = DashboardActions.failure(KubeError.api(code: 404, status: Status()), verb: .abort, namespace: "shop", name: "web")
        #expect(gone.status == 404 && Self.error(gone).contains("no such Rollout"))
        let down = DashboardActions.failure(KubeError.transport(TransportFailure(kind: .couldNotConnect, server: "https://k:6443", detail: "refused", notSent: true)),
                                            verb: .retry, namespace: "shop", name: "web")
        #expect(down.status == 502 && Self.error(down).contains("cannot connect to https://k:6443"))
        let creds = DashboardActions.failure(KubeError.api(code: 401, status: Status(message: "Unauthorized")), verb: .restart, namespace: "shop", name: "web")
        #expect(creds.status == 502 && Self.error(creds).contains("credentials"))
    }

    // MARK: The server's routes

    static func server(actions: DashboardActions?) -> DashboardServer {
        var options = DashboardServer.Options(address: "127.0.0.1", port: 3100)
        options.actions = actions
        return DashboardServer(options: options, source: FixedSource(items: [Fixtures.rollout(name: "web")]), feed: ChangeFeed(), logger: Logger(label: "test"))
    }

    static func request(_ method: HTTPMethod, _ path: String, headers: [String: String] = [:], body: String = "") -> FlyingFox.HTTPRequest {
        var h: [HTTPHeader: String] = [.host: "127.0.0.1:3100"]
        for (k, v) in headers { h[HTTPHeader(k)] = v }
        if !body.isEmpty { h[.contentLength] = String(body.utf8.count) }
        return FlyingFox.HTTPRequest(method: method, version: .http11, path: path, query: [], headers: h, body: Data(body.utf8))
    }

    static let good = ["X-Aviary-CSRF": token, "Content-Type": "application/json", "Origin": "http://127.0.0.1:3100", "Sec-Fetch-Site": "same-origin"]

    static func json(_ response: FlyingFox.HTTPResponse) async throws -> [String: Any] {
        let data = try await response.bodyData
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func withoutTheFlagEveryWriteIsRefused() async throws {
        let server = Self.server(actions: nil)
        let session = await server.handle(Self.request(.GET, "/api/session"))
        #expect(session.statusCode.code == 200)
        #expect(try await Self.json(session) as NSDictionary == ["actions": false])
        for path in ["/api/rollouts/default/web/actions/promote", "/api/rollouts", "/"] {
            let r = await server.handle(Self.request(.POST, path, headers: Self.good, body: "{}"))
            #expect(r.statusCode.code == 405)
            #expect(r.headers[HTTPHeader("Allow")] == "GET, HEAD")
        }
    }

    @Test func withTheFlagTheSessionGivesTheTokenAndWritesNeedIt() async throws {
        let acted = Locked<[String]>([])
        let actions = DashboardActions(csrf: Self.guardian) { request in
            acted.withLock { $0.append(request.path) }
            throw DashboardActions.Refused(status: 403, "not you")
        }
        let server = Self.server(actions: actions)
        let session = try await Self.json(server.handle(Self.request(.GET, "/api/session", headers: ["Sec-Fetch-Site": "same-origin"])))
        #expect(session["actions"] as? Bool == true && session["csrf"] as? String == Self.token)
        #expect(await server.handle(Self.request(.GET, "/api/session", headers: ["Origin": "http://evil.example"])).statusCode.code == 403)

        let path = "/api/rollouts/default/web/actions/promote"
        var noToken = Self.good
        noToken["X-Aviary-CSRF"] = nil
        let refused = await server.handle(Self.request(.POST, path, headers: noToken, body: "{}"))
        #expect(refused.statusCode.code == 403)
        #expect(try await Self.json(refused)["error"] as? String ?? "" == Self.guardian.refusal(csrf: nil, contentType: "application/json", origin: nil, fetchSite: nil, host: nil))
        var form = Self.good
        form["Content-Type"] = "application/x-www-form-urlencoded"
        #expect(await server.handle(Self.request(.POST, path, headers: form, body: "a=b")).statusCode.code == 403)
        #expect(acted.withLock { $0 }.isEmpty, "nothing reaches the identity before the CSRF rules pass")

        // Routes: an unknown action, a bad name, a GET on an action, a POST elsewhere, a large body.
        let unknown = await server.handle(Self.request(.POST, "/api/rollouts/default/web/actions/delete", headers: Self.good, body: "{}"))
        #expect(unknown.statusCode.code == 404)
        #expect(try await Self.json(unknown)["error"] as? String == "no action \"delete\": the actions are promote, promote-full, abort, retry, undo, restart, set-image")
        #expect(await server.handle(Self.request(.POST, "/api/rollouts/Default/web/actions/promote", headers: Self.good, body: "{}")).statusCode.code == 404)
        let get = await server.handle(Self.request(.GET, path))
        #expect(get.statusCode.code == 405 && get.headers[HTTPHeader("Allow")] == "GET, HEAD, POST")
        #expect(await server.handle(Self.request(.POST, "/api/rollouts", headers: Self.good, body: "{}")).statusCode.code == 405)
        #expect(await server.handle(Self.request(.PUT, path, headers: Self.good, body: "{}")).statusCode.code == 405)
        let big = await server.handle(Self.request(.POST, path, headers: Self.good, body: "{\"a\":\"" + String(repeating: "x", count: 20_000) + "\"}"))
        #expect(big.statusCode.code == 413)
        let bad = await server.handle(Self.request(.POST, "/api/rollouts/default/web/actions/set-image", headers: Self.good, body: "{}"))
        #expect(bad.statusCode.code == 400)
        #expect(try await Self.json(bad)["error"] as? String == "could not set the image of default/web: set-image takes {\"container\": NAME, \"image\": IMAGE}, both strings")

        // Past every rule: the identity is asked, and its refusal is the answer.
        let denied = await server.handle(Self.request(.POST, path, headers: Self.good, body: "{}"))
        #expect(denied.statusCode.code == 403)
        #expect(try await Self.json(denied)["error"] as? String == "not you")
        #expect(acted.withLock { $0 } == [path])
    }

    /// The API server's refusal (RBAC) reaches the page in words; the patch is never sent.
    @Test func theAPIServersRefusalIsTheAnswer() async throws {
        let seen = Locked<[String]>([])
        let apiServer = try TinyHTTPServer { head in
            seen.withLock { $0.append(String(head.split(separator: "\r\n").first ?? "")) }
            let body = Array(#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"rollouts.aviary.dev \"web\" is forbidden: User \"ann\" cannot get resource \"rollouts\" in API group \"aviary.dev\" in the namespace \"shop\"","reason":"Forbidden","code":403}"#.utf8)
            return TinyHTTPServer.response("403 Forbidden", headers: ["Content-Type: application/json", "Content-Length: \(body.count)"], body: body)
        }
        defer { apiServer.stop() }
        let client = KubeClient(access: ClusterAccess(server: "http://127.0.0.1:\(apiServer.port)", tls: TLSSettings(), credentials: .none,
                                                      source: "test", allowInsecureHTTP: true, proxy: .direct), retry: .none)
        let server = Self.server(actions: DashboardActions(csrf: Self.guardian) { _ in client })
        let r = await server.handle(Self.request(.POST, "/api/rollouts/shop/web/actions/abort", headers: Self.good, body: "{}"))
        #expect(r.statusCode.code == 403)
        let error = try await Self.json(r)["error"] as? String ?? ""
        #expect(error.hasPrefix("could not abort shop/web: the API server refused (403 Forbidden): rollouts.aviary.dev \"web\" is forbidden: User \"ann\" cannot get"))
        #expect(seen.withLock { $0 }.count == 1 && seen.withLock { $0 }.first?.hasPrefix("GET /apis/aviary.dev/v1alpha1/namespaces/shop/rollouts/web") == true)
    }
}

/// A value behind a lock, for the closures above.
final class Locked<T>: @unchecked Sendable {
    private var value: T
    private let lock = NSLock()
    init(_ value: T) { self.value = value }
    func withLock<R>(_ body: (inout T) -> R) -> R { lock.withLock { body(&value) } }
}
