import AviaryAPI
import Foundation
import Kube
import Testing
@testable import Analysis
@testable import AnalysisCore

@Suite struct PodHealthTests {
    func pod(_ name: String, ready: Bool = true, deleting: Bool = false, containers: [String]) throws -> Pod {
        let json = """
        {"metadata": {"name": "\(name)", "namespace": "ns", "labels": {"rollouts-pod-template-hash": "abc"}\(deleting ? ", \"deletionTimestamp\": \"2026-01-01T00:00:00Z\"" : "")},
         "spec": {"containers": [{"name": "app"}]},
         "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "\(ready ? "True" : "False")"}],
                    "containerStatuses": [\(containers.joined(separator: ","))]}}
        """
        return try JSONDecoder().decode(Pod.self, from: Data(json.utf8))
    }

    func container(restarts: String = "0", state: String = #"{"running": {}}"#, last: String = "{}") -> String {
        #"{"name": "app", "restartCount": \#(restarts), "state": \#(state), "lastState": \#(last)}"#
    }

    /// A cached pod keeps what PodHealth reads and nothing else (most of a real status is IDs and times).
    @Test func aDecodedPodKeepsOnlyWhatIsRead() throws {
        let long = String(repeating: "x", count: 500)
        let json = """
        {"metadata": {"name": "p", "namespace": "ns"},
         "status": {"phase": "Running", "podIP": "10.0.0.1",
                    "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}],
                    "containerStatuses": [{"name": "app", "restartCount": 2, "ready": true, "image": "web:1", "imageID": "docker-pullable://web@sha256:0123",
                                           "containerID": "containerd://abcdef", "started": true,
                                           "state": {"waiting": {"reason": "\(long)", "message": "back-off"}},
                                           "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137, "startedAt": "2026-01-01T00:00:00Z"}}}]}}
        """
        let pod = try JSONDecoder().decode(Pod.self, from: Data(json.utf8))
        #expect(pod.isReady)
        #expect(pod.status?.conditions?.map(\.type) == ["Ready"])
        #expect(pod.status?.containerStatuses == [[
            "name": "app", "restartCount": 2,
            "state": ["waiting": ["reason": .string(String(repeating: "x", count: 64))]],
            "lastState": ["terminated": ["reason": "OOMKilled"]],
        ]])
        #expect(PodHealth.summary([pod])["restarts"] == 2)
    }

    @Test func aCrashingReleaseIsVisibleInTheResult() throws {
        let pods = [
            try pod("healthy", containers: [container()]),
            try pod("oom", containers: [container(restarts: "6", last: #"{"terminated": {"reason": "OOMKilled", "exitCode": 137}}"#)]),
            try pod("looping", ready: false, containers: [
                container(restarts: "3", state: #"{"waiting": {"reason": "CrashLoopBackOff"}}"#, last: #"{"terminated": {"reason": "Error", "exitCode": 1}}"#),
                container(state: #"{"waiting": {"reason": "ImagePullBackOff"}}"#),
            ]),
            try pod("going", deleting: true, containers: [container(restarts: "100")]),
        ]
        let r = PodHealth.summary(pods)
        #expect(r == .object([
            "pods": 3, "ready": 2, "notReady": 1, "restarts": 9, "maxRestarts": 6, "oomKilled": 1, "crashLooping": 1, "imagePullFailures": 1,
            "terminationReasons": ["OOMKilled": 1, "Error": 1], "waitingReasons": ["CrashLoopBackOff": 1, "ImagePullBackOff": 1],
        ]))
        let plan = try MetricPlan(Metric(name: "crashes", successCondition: "result.restarts <= 5 && result.oomKilled == 0",
                                         provider: MetricProvider(pods: PodsMetric())))
        #expect(Judgement.measurement(result: r, success: plan.success, failure: plan.failure).0 == .Failed)
        #expect(Judgement.measurement(result: PodHealth.summary([pods[0]]), success: plan.success, failure: plan.failure).0 == .Successful)
    }

    @Test func hostileStatusesNeitherOverflowNorGrow() throws {
        let weird = try pod("w", containers: [
            container(restarts: "1e300"), container(restarts: "-5"), container(restarts: "2.5"), container(restarts: "\"7\""),
            container(restarts: "9223372036854775807"),
        ])
        guard case .object(let r) = PodHealth.summary([weird, weird]) else { Issue.record("not an object"); return }
        #expect(r["restarts"] == .number(Double(Int32.max)), "the sum saturates")
        #expect(r["maxRestarts"] == .number(Double(Int32.max)))
        let reasons = (0..<100).map { i in container(last: #"{"terminated": {"reason": "R\#(i)\#(String(repeating: "x", count: 500))"}}"#) }
        guard case .object(let many)? = PodHealth.summary([try pod("many", containers: reasons)])["terminationReasons"] else {
            Issue.record("no reasons"); return
        }
        #expect(many.count == PodHealth.maxReasons)
        #expect(many["other"] == .number(85))
        #expect(many.keys.allSatisfy { $0.count <= PodHealth.maxReasonLength })
    }

    @Test func theHashMustBeALabelValue() throws {
        var run = AnalysisRun(metadata: ObjectMeta(name: "r", namespace: "ns"), spec: AnalysisSpec(metrics: []))
        #expect(throws: ProviderError.self) { try Measurer.podTemplateHash(PodsMetric(), of: run, args: Arguments()) }
        run.metadata.labels = [podTemplateHashLabel: "6d4f7b9c8"]
        #expect(try Measurer.podTemplateHash(PodsMetric(), of: run, args: Arguments()) == "6d4f7b9c8")
        let widened = PodsMetric(podTemplateHash: "x,app!=y")
        #expect(throws: ProviderError.self) { try Measurer.podTemplateHash(widened, of: run, args: Arguments()) }
        #expect(!Measurer.isLabelValue(String(repeating: "a", count: 64)) && Measurer.isLabelValue("a-b.c_d") && !Measurer.isLabelValue("-a"))
    }

    @Test func noPodsIsAnErrorNotAPass() async throws {
        let client = KubeClient(access: ClusterAccess(server: "https://127.0.0.1:1", tls: TLSSettings(), credentials: .none, source: "test"))
        let measurer = Measurer(client: client, bulkhead: Bulkhead(limit: 1), pods: { _, _ in [] })
        let metric = Metric(name: "crashes", successCondition: "result.restarts <= 5", provider: MetricProvider(pods: PodsMetric()))
        var run = AnalysisRun(metadata: ObjectMeta(name: "r", namespace: "ns"), spec: AnalysisSpec(metrics: [metric]))
        run.metadata.labels = [podTemplateHashLabel: "abc"]
        let m = await measurer.measure(metric, plan: try MetricPlan(metric), run: run, number: 1, now: KubeTime(secondsSinceEpoch: 1))
        #expect(m.phase == .Error)
        #expect(m.message?.hasPrefix("pods: no pod in namespace ns has rollouts-pod-template-hash=abc") == true)
    }
}
