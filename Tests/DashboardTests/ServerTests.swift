import AviaryAPI
import Controller
import Dashboard
import FlyingFox
import Foundation
import KubeAPI
import Logging
import Plugin
import Testing
import TestSupport

/// The server over a real socket: headers, the rules, the API's top-level shapes, and the event stream.
@Suite struct ServerTests {
    @Test func eventFraming() {
        #expect(ServerSentEvents.retry() == "retry: 2000\n\n")
        #expect(ServerSentEvents.ping == ": ping\n\n")
        #expect(ServerSentEvents.event("changed", data: "a\nb") == "event: changed\ndata: a\ndata: b\n\n")
        // A name or data with line breaks cannot forge another field or event.
        #expect(ServerSentEvents.event("x\nevent: evil", data: "1\r\n\r\nevent: evil") == "event: x\ndata: 1\ndata: \ndata: event: evil\n\n")
        #expect(ServerSentEvents.changed(namespace: "shop", name: "web\n\nevent: x") == "event: changed\ndata: {\"name\":\"web\\n\\nevent: x\",\"namespace\":\"shop\"}\n\n")
    }

    @Test func feedCoalesces() async throws {
        let feed = ChangeFeed(interval: .milliseconds(50))
        let keys = try #require(feed.subscribe())
        let runner = Task { await feed.run() }
        defer { runner.cancel() }
        for _ in 0..<100 { feed.publish(ObjectKey(namespace: "shop", name: "web")) }
        feed.publish(ObjectKey(namespace: "shop", name: "api"))
        var got: [String] = []
        for await k in keys {
            got.append(k.name)
            if got.count == 2 { break }
        }
        #expect(got == ["api", "web"])
    }

    /// A server on a free port over `source`.
    static func start(_ source: FixedSource, token: String? = nil, feed: ChangeFeed = ChangeFeed(interval: .milliseconds(50))) async throws -> (Int, Task<Void, Never>) {
        let server = DashboardServer(options: .init(address: "127.0.0.1", port: 0, token: token), source: source, feed: feed, logger: Logger(label: "test"))
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { try? await server.run() }
                group.addTask { await feed.run() }
            }
        }
        for _ in 0..<500 where server.port == nil { try await Task.sleep(for: .milliseconds(10)) }
        return (Int(try #require(server.port)), task)
    }

    @Test func pageAndAPIWithSecurityHeaders() async throws {
        let source = FixedSource(items: [Fixtures.rollout(name: "web"), Fixtures.rollout(name: "api", phase: .Paused, labels: ["app": "api"])],
                                 runs: [Fixtures.run()])
        let (port, task) = try await Self.start(source)
        defer { task.cancel() }
        let page = try await RawHTTP.request(port: port, "/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(page.headers["content-security-policy"]?.hasPrefix("default-src 'self'") == true)
        #expect(page.headers["x-content-type-options"] == "nosniff")
        #expect(page.headers["referrer-policy"] == "no-referrer")
        #expect(page.body.contains("/assets/app.js"))
        #expect(try await RawHTTP.request(port: port, "/assets/app.js").headers["content-type"]?.hasPrefix("text/javascript") == true)

        let list = try await RawHTTP.request(port: port, "/api/rollouts")
        #expect(list.status == 200 && list.headers["cache-control"] == "no-store")
        let body = try #require(JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [String: Any])
        #expect((body["rollouts"] as? [[String: Any]])?.map { $0["name"] as? String } == ["api", "web"])
        #expect(body["namespaces"] as? [String] == ["shop"])
        let filtered = try await RawHTTP.request(port: port, "/api/rollouts?label=app%3Dweb&phase=progressing")
        #expect(filtered.body.contains("\"web\"") && !filtered.body.contains("\"api\""))
        #expect(try await RawHTTP.request(port: port, "/api/rollouts?label=a%3D%3Cx%3E").status == 400)

        let one = try await RawHTTP.request(port: port, "/api/rollouts/shop/web")
        let detail = try #require(JSONSerialization.jsonObject(with: Data(one.body.utf8)) as? [String: Any])
        #expect(Set(detail.keys) == ["summary", "events", "report"])
        #expect(detail["report"] is NSNull)
        #expect((detail["summary"] as? [String: Any])?["name"] as? String == "web")
        #expect(try await RawHTTP.request(port: port, "/api/rollouts/shop/nope").status == 404)
        #expect(try await RawHTTP.request(port: port, "/nope").status == 404)
        // DNS rebinding: another site's name in Host.
        #expect(try await RawHTTP.request(port: port, "/api/rollouts", headers: ["Host": "evil.example:\(port)"]).status == 421)
    }

    /// An aborted update carries its post-rollback report; any other none (null).
    @Test func anAbortedUpdateHasItsReport() throws {
        var r = Fixtures.rollout()
        r.status?.abort = true
        r.status?.phase = .Degraded
        var run = Fixtures.run()
        run.status?.phase = .Failed
        run.status?.message = "success-rate: [0.7] did not satisfy result[0] >= 0.95"
        let api = DashboardAPI(source: FixedSource(items: [r], runs: [run]), now: { KubeTime(secondsSinceEpoch: 2_000) })
        let reply = api.rollout(namespace: "shop", name: "web")
        let body = try #require(JSONSerialization.jsonObject(with: reply.body) as? [String: Any])
        let report = try #require(body["report"] as? [String: Any])
        #expect(report["outcome"] as? String == "aborted")
        #expect((body["summary"] as? [String: Any])?["aborted"] as? Bool == true)
    }

    @Test func rulesOverTheWire() async throws {
        let (port, task) = try await Self.start(FixedSource(items: [Fixtures.rollout()]), token: "s3cret-token-0123456789")
        defer { task.cancel() }
        let post = try await RawHTTP.request(port: port, "/api/rollouts", method: "POST", headers: ["Authorization": "Bearer s3cret-token-0123456789", "Content-Length": "0"])
        #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD", "\(post.headers)")
        let anonymous = try await RawHTTP.request(port: port, "/api/rollouts")
        #expect(anonymous.status == 401 && anonymous.body.contains("/login?token="))
        #expect(try await RawHTTP.request(port: port, "/api/rollouts", headers: ["Authorization": "Bearer s3cret-token-0123456789"]).status == 200)
        #expect(try await RawHTTP.request(port: port, "/login?token=wrong").status == 401)
        let login = try await RawHTTP.request(port: port, "/login?token=s3cret-token-0123456789")
        #expect(login.status == 303 && login.headers["location"] == "/")
        let cookie = try #require(login.headers["set-cookie"])
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"))
        let value = try #require(cookie.split(separator: ";").first)
        #expect(try await RawHTTP.request(port: port, "/api/rollouts", headers: ["Cookie": String(value)]).status == 200)
    }

    @Test func streamSaysWhatChanged() async throws {
        let feed = ChangeFeed(interval: .milliseconds(50))
        let (port, task) = try await Self.start(FixedSource(items: [Fixtures.rollout()]), feed: feed)
        defer { task.cancel() }
        let publisher = Task {
            // Once the page is subscribed, a change.
            while feed.subscriberCount == 0 { try? await Task.sleep(for: .milliseconds(10)) }
            feed.publish(ObjectKey(namespace: "shop", name: "web"))
        }
        defer { publisher.cancel() }
        let text = try await RawHTTP.stream(port: port, "/api/stream", timeout: 5) { $0.contains("\"name\":\"web\"") }
        let response = RawHTTP.parse(text)
        #expect(response.headers["content-type"]?.hasPrefix("text/event-stream") == true)
        #expect(response.body.contains("retry: 2000\n\n"))
        #expect(response.body.contains("event: changed\ndata: {\"name\":\"web\",\"namespace\":\"shop\"}\n\n"))
        // The closed connection ends the subscription.
        for _ in 0..<100 where feed.subscriberCount > 0 {
            feed.publish(ObjectKey(namespace: "shop", name: "web"))
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(feed.subscriberCount == 0)
    }
}
