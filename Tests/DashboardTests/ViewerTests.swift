import Controller
@testable import Dashboard
import FlyingFox
import Foundation
import Kube
import Logging
import Synchronization
import Testing
import TestSupport

/// In-cluster mode without a cluster: a fake reviewer, the caches' keys and
/// bounds, and what each viewer is shown over the wire.
@Suite struct ViewerTests {
    /// Tokens "alice-token-…" and "bob-token-…" are alice and bob; alice may list in shop, bob in every namespace, carol nowhere.
    final class FakeAuthority: ViewerAuthority {
        let reviews = Mutex(0)
        let accessReviews = Mutex<[String]>([])
        func review(token: String) async throws -> Viewer? {
            reviews.withLock { $0 += 1 }
            if token == "down" { throw CancellationError() }
            for name in ["alice", "bob", "carol"] where token.hasPrefix("\(name)-token-") {
                return Viewer(username: name, uid: "uid-\(name)", groups: ["system:authenticated"])
            }
            return nil
        }
        func mayListRollouts(_ viewer: Viewer, namespace: String) async throws -> Bool {
            accessReviews.withLock { $0.append("\(viewer.username)@\(namespace)") }
            switch viewer.username {
            case "alice": return namespace == "shop"
            case "bob": return true
            default: return false
            }
        }
    }

    @Test func sha256KnownAnswers() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(String(repeating: "a", count: 1_000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func cachesHoldDigestsNeverTokensAndAnswerOnce() async {
        let authority = FakeAuthority()
        let gate = ViewerGate(authority: authority)
        let token = "alice-token-0123456789abcdef"
        for _ in 0..<5 { #expect(await gate.authenticate(token: token) == .viewer(Viewer(username: "alice", uid: "uid-alice", groups: ["system:authenticated"]))) }
        #expect(authority.reviews.withLock { $0 } == 1)
        #expect(gate.tokens.keys == [SHA256.hex(token)])
        #expect(!gate.tokens.keys.contains { $0.contains(token) || $0.contains("alice") })
        // A refusal is not remembered; an unreachable API server is not a refusal.
        #expect(await gate.authenticate(token: "nobody-1234567890") == .unauthenticated)
        #expect(await gate.authenticate(token: "nobody-1234567890") == .unauthenticated)
        #expect(authority.reviews.withLock { $0 } == 3)
        if case .unavailable = await gate.authenticate(token: "down") {} else { Issue.record("a failed review should be unavailable") }
        // Missing, empty, control characters, or far too long: not even sent for review.
        for bad in [nil, "", "a b", "tok\r\nX-Evil: 1", String(repeating: "x", count: 9_000)] as [String?] {
            #expect(await gate.authenticate(token: bad) == .unauthenticated)
        }
        #expect(authority.reviews.withLock { $0 } == 4)
    }

    @Test func reviewedPolicyNeedsSomeTokenAndAnyHost() {
        var policy = AccessPolicy(address: "0.0.0.0", port: 3100, token: nil)
        policy.reviewsTokens = true
        #expect(policy.check(method: "GET", host: "dash.corp.example", authorization: nil, cookie: nil) == .unauthorized)
        #expect(policy.check(method: "GET", host: "dash.corp.example", authorization: "Bearer eyJ.x.y", cookie: nil) == nil)
        #expect(policy.check(method: "GET", host: nil, authorization: nil, cookie: "a=b; aviary_dashboard=eyJ.x.y") == nil)
        #expect(policy.check(method: "GET", host: nil, authorization: "Basic dXNlcjpwdw==", cookie: "aviary_dashboard=") == .unauthorized)
        #expect(AccessPolicy.presentedToken(authorization: "bearer  tok-1 ", cookie: "aviary_dashboard=tok-2") == "tok-1")
        #expect(AccessPolicy.presentedToken(authorization: nil, cookie: "x=1; aviary_dashboard=tok-2") == "tok-2")
        #expect(AccessPolicy.presentedToken(authorization: "Bearer " + String(repeating: "x", count: 9_000), cookie: nil) == nil)
    }

    @Test func cachesAreBoundedAndExpire() {
        let now = Mutex(ContinuousClock.now)
        let cache = ExpiringCache<String, Int>(lifetime: .seconds(30), capacity: 3, clock: { now.withLock { $0 } })
        for i in 0..<10 { cache.set("k\(i)", i); now.withLock { $0 += .milliseconds(1) } }
        #expect(cache.count == 3)
        #expect(Set(cache.keys) == ["k7", "k8", "k9"])
        #expect(cache.get("k9") == 9)
        now.withLock { $0 += .seconds(31) }
        #expect(cache.get("k9") == nil)
        #expect(cache.count == 2)
    }

    @Test func namespacesByReview() async {
        let authority = FakeAuthority()
        let gate = ViewerGate(authority: authority)
        let alice = Viewer(username: "alice"), bob = Viewer(username: "bob"), carol = Viewer(username: "carol")
        #expect(await gate.readable(alice, namespaces: ["shop", "bank", ""]) == ["shop"])
        #expect(await gate.readable(bob, namespaces: ["shop", "bank"]) == ["shop", "bank"])
        #expect(await gate.readable(carol, namespaces: ["shop", "bank"]).isEmpty)
        // bob: one cluster-wide review says all; alice: asked once per namespace, then remembered.
        _ = await gate.readable(alice, namespaces: ["shop", "bank"])
        #expect(await gate.mayRead(alice, namespace: "shop"))
        #expect(!(await gate.mayRead(alice, namespace: "bank")))
        let asked = authority.accessReviews.withLock { $0 }
        #expect(asked.filter { $0 == "alice@shop" }.count == 1 && asked.filter { $0 == "alice@bank" }.count == 1)
        #expect(asked.filter { $0.hasPrefix("bob@") } == ["bob@"])
    }

    @Test func impersonatingClientRefusesHeaderInjection() throws {
        #expect(try ViewerGate(authority: FakeAuthority()).client(for: Viewer(username: "alice")) == nil)
        let client = KubeClient(access: ClusterAccess(server: "https://127.0.0.1:1", tls: TLSSettings(), credentials: .none, source: "test"))
        let gate = ViewerGate(authority: FakeAuthority(), client: client)
        #expect(try gate.client(for: Viewer(username: "alice", groups: ["dev", "system:authenticated"])) != nil)
        for evil in [Viewer(username: "alice\r\nImpersonate-Group: system:masters"), Viewer(username: "alice", groups: ["dev\nX: y"]), Viewer(username: "")] {
            #expect(throws: KubeError.self) { try gate.client(for: evil) }
        }
    }

    @Test func actionsActAsTheReviewedViewer() async throws {
        let client = KubeClient(access: ClusterAccess(server: "https://127.0.0.1:1", tls: TLSSettings(), credentials: .none, source: "test"))
        let identity = ViewerGate(authority: FakeAuthority(), client: client).actionIdentity
        func request(_ token: String?) -> FlyingFox.HTTPRequest {
            var h: [HTTPHeader: String] = [:]
            if let token { h[.authorization] = "Bearer \(token)" }
            return FlyingFox.HTTPRequest(method: .POST, version: .http11, path: "/api/rollouts/shop/web/actions/promote", query: [], headers: h, body: Data())
        }
        _ = try await identity(request("alice-token-1234567890"))
        for token in [nil, "wrong-1234567890"] {
            await #expect { try await identity(request(token)) } throws: { ($0 as? DashboardActions.Refused)?.status == 401 }
        }
        await #expect { try await identity(request("down")) } throws: { ($0 as? DashboardActions.Refused)?.status == 503 }
    }

    static func start(_ source: FixedSource, authority: FakeAuthority, feed: ChangeFeed = ChangeFeed(interval: .milliseconds(50))) async throws -> (Int, Task<Void, Never>) {
        var options = DashboardServer.Options(address: "127.0.0.1", port: 0)
        options.viewers = ViewerGate(authority: authority)
        let server = DashboardServer(options: options, source: source, feed: feed, logger: Logger(label: "test"))
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await server.run() }
                group.addTask { await feed.run() }
            }
        }
        for _ in 0..<500 where server.port == nil { try await Task.sleep(for: .milliseconds(10)) }
        return (Int(try #require(server.port)), task)
    }

    @Test func eachViewerSeesTheirNamespacesOverTheWire() async throws {
        var other = Fixtures.rollout(name: "vault")
        other.metadata.namespace = "bank"
        let source = FixedSource(items: [Fixtures.rollout(name: "web"), other])
        let feed = ChangeFeed(interval: .milliseconds(50))
        let (port, task) = try await Self.start(source, authority: FakeAuthority(), feed: feed)
        defer { task.cancel() }
        func names(_ token: String) async throws -> (Int, [String], String?) {
            let r = try await RawHTTP.request(port: port, "/api/rollouts", headers: ["Authorization": "Bearer \(token)", "Host": "dash.example.com"])
            let body = try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]
            let rows = body?["rollouts"] as? [[String: Any]] ?? []
            return (r.status, rows.compactMap { $0["name"] as? String }.sorted(), body?["message"] as? String)
        }
        #expect(try await names("alice-token-1234567890") == (200, ["web"], nil))
        #expect(try await names("bob-token-1234567890") == (200, ["vault", "web"], nil))
        let carol = try await names("carol-token-1234567890")
        #expect(carol.0 == 200 && carol.1.isEmpty && carol.2?.contains("carol may not list rollouts.aviary.dev") == true)
        #expect(try await names("wrong-1234567890").0 == 401)
        #expect(try await RawHTTP.request(port: port, "/api/rollouts").status == 401)
        // One Rollout: a namespace the viewer may not read is a 404, as if it were not there.
        let bank = ["Authorization": "Bearer alice-token-1234567890"]
        #expect(try await RawHTTP.request(port: port, "/api/rollouts/bank/vault", headers: bank).status == 404)
        #expect(try await RawHTTP.request(port: port, "/api/rollouts/shop/web", headers: bank).status == 200)
        // Login: an accepted token becomes the cookie; a refused one does not.
        let login = try await RawHTTP.request(port: port, "/login?token=alice-token-1234567890")
        #expect(login.status == 303 && login.headers["set-cookie"]?.hasPrefix("aviary_dashboard=alice-token-1234567890;") == true)
        #expect(try await RawHTTP.request(port: port, "/login?token=wrong-1234567890").status == 401)
        let cookie = ["Cookie": "aviary_dashboard=alice-token-1234567890"]
        #expect(try await RawHTTP.request(port: port, "/api/rollouts/shop/web", headers: cookie).status == 200)
        // The stream names only what the viewer may read.
        let done = Mutex(false)
        let stream = Task {
            try await RawHTTP.stream(port: port, "/api/stream", headers: bank, timeout: 10) { _ in done.withLock { $0 } }
        }
        while feed.subscriberCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
        feed.publish(ObjectKey(namespace: "bank", name: "vault"))
        feed.publish(ObjectKey(namespace: "shop", name: "web"))
        try await Task.sleep(for: .milliseconds(400))
        done.withLock { $0 = true }
        feed.publish(ObjectKey(namespace: "shop", name: "web"))
        let text = try await stream.value
        #expect(text.contains("\"name\":\"web\""))
        #expect(!text.contains("vault"))
    }
}
