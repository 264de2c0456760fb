import AviaryAPI
import Dashboard
import Foundation
import Kube
import Logging
import Synchronization
import Testing
import TestSupport

/// The dashboard against the real cluster: in-process on a free port, its
/// caches fed by its own watches, a canary moved by a real controller.
@Suite struct DashboardE2ETests {
    static let steps: JSONValue = [["setWeight": 50], ["pause": [:]]]

    @Test func listDetailAndALiveChangeWithinSeconds() async throws {
        let client = try TestCluster.client()
        try await TestCluster.installCRDs()
        let ns = try await TestCluster.namespace("dashboard", client: client)
        try await TestCluster.createExampleCanary(in: ns, client: client, steps: Self.steps)
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("1.0 Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2 }

        let dashboard = try await InProcessDashboard.start(client: client, namespace: ns)
        defer { dashboard.stop() }
        let port = dashboard.port, feed = dashboard.feed

        // The list: the Rollout, Healthy, from the caches.
        var rows: [[String: Any]] = []
        for _ in 0..<50 {
            let list = try await RawHTTP.request(port: port, "/api/rollouts")
            #expect(list.status == 200)
            let body = try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [String: Any]
            rows = body?["rollouts"] as? [[String: Any]] ?? []
            if rows.first?["phase"] as? String == "Healthy", rows.first?["actualWeight"] != nil { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(rows.count == 1)
        #expect(rows.first?["name"] as? String == "web" && rows.first?["namespace"] as? String == ns)
        #expect(rows.first?["phase"] as? String == "Healthy")
        #expect(rows.first?["stepCount"] as? Int == 2)

        // One Rollout: its summary with the ReplicaSet and pods, and its events. Each kind has its own
        // watch, so the pods' and events' caches may trail the Rollout's by a moment on a loaded machine.
        var detail: [String: Any] = [:]
        var summary: [String: Any] = [:]
        var pods: [[String: Any]] = []
        for _ in 0..<50 {
            let one = try await RawHTTP.request(port: port, "/api/rollouts/\(ns)/web")
            detail = try #require(try JSONSerialization.jsonObject(with: Data(one.body.utf8)) as? [String: Any])
            summary = try #require(detail["summary"] as? [String: Any])
            let revisions = summary["revisions"] as? [[String: Any]] ?? []
            pods = (revisions.first?["replicaSets"] as? [[String: Any]])?.first?["pods"] as? [[String: Any]] ?? []
            if pods.count == 2, (detail["events"] as? [Any])?.isEmpty == false { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(summary["strategy"] as? String == "Canary")
        #expect(pods.count == 2)
        #expect(detail["report"] is NSNull)
        #expect((detail["events"] as? [Any])?.isEmpty == false)

        // Live: the page hears of a step within a second or two of it. Each `changed` for web is timed as it arrives.
        let marker = "\"name\":\"web\",\"namespace\":\"\(ns)\""
        let arrivals = Mutex<[ContinuousClock.Instant]>([])
        let done = Mutex(false)
        let stream = Task {
            try await RawHTTP.stream(port: port, "/api/stream", timeout: 60) { text in
                let n = text.components(separatedBy: marker).count - 1
                arrivals.withLock { a in while a.count < n { a.append(.now) } }
                return done.withLock { $0 }
            }
        }
        while feed.subscriberCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
        try await probe.setImage("registry.example/web:2.0")
        try await probe.wait("paused at 50 %", timeout: .seconds(30)) { $0.status?.phase == .Paused && $0.status?.currentStepIndex == 1 }
        let pausedSeen = ContinuousClock.now
        // How soon is printed, not asserted (a loaded CI machine is no benchmark): an event near the pause must come.
        for _ in 0..<100 where !arrivals.withLock({ $0.contains { $0 > pausedSeen - .seconds(2) } }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        try await Task.sleep(for: .milliseconds(500))
        done.withLock { $0 = true }
        let text = try await stream.value
        let times = arrivals.withLock { $0 }
        #expect(text.contains("retry: 2000"))
        #expect(text.contains("event: changed"))
        // The step's status write (seen by the test's own polling at pausedSeen) reached the stream.
        let near = times.filter { $0 > pausedSeen - .seconds(2) }
        #expect(!near.isEmpty, "changed events at \(times.map { $0 - pausedSeen }) from the pause being seen")
        print("dashboard: \(times.count) changed events for web; offsets from the pause being seen: \(times.map { $0 - pausedSeen })")
        // After the step, the list says Paused at step 1, from the caches.
        var phase = ""
        for _ in 0..<40 {
            let list = try await RawHTTP.request(port: port, "/api/rollouts")
            let body = try JSONSerialization.jsonObject(with: Data(list.body.utf8)) as? [String: Any]
            let row = (body?["rollouts"] as? [[String: Any]])?.first
            phase = row?["phase"] as? String ?? ""
            if phase == "Paused", row?["step"] as? Int == 1 { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(phase == "Paused")
    }
}
