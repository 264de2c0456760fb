import AviaryAPI
import Foundation
import Kube
import Rollouts
import Testing
import TestSupport

/// A metric's `onFailure: {notify, thenAbortAfter}` for real: the controller
/// holds the update, the trigger's message reaches a real receiver at once,
/// and the update aborts after the grace period, unless acknowledged.
@Suite struct EscalationE2ETests {
    /// A namespace with a canary Rollout whose analysis step measures `vector(3)` against `result < 2`.
    func setUp(_ prefix: String, client: KubeClient, receiver: RecordingReceiver, grace: String) async throws -> (RolloutProbe, ControllerProcess) {
        try await TestCluster.installCRDs()
        let ns = try await TestCluster.namespace(prefix, client: client)
        let template: JSONValue = [
            "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": "latency"],
            "spec": ["metrics": [[
                "name": "p95", "successCondition": "result < 2",
                "onFailure": ["notify": "on-latency-alert", "thenAbortAfter": .string(grace)],
                "provider": ["prometheus": ["address": .string(try AnalysisE2ETests.prometheusURL), "query": "vector(3)"]],
            ]]],
        ]
        let _: JSONValue = try await client.create(AnalysisTemplate.resource, template, namespace: ns)
        let map: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "aviary-notification-configmap"], "data": [
            "service.webhook.oncall": .string("url: \(receiver.url("/page"))\n"),
            "template.latency-alert": "message: 'p95 too high on {{.rollout.metadata.name}}: {{.analysis.decidedBy.name}} measured {{.analysis.decidedBy.value}} ({{.analysis.decidedBy.successCondition}}). {{.event.message}}'\n",
            "trigger.on-latency-alert": "- send: [latency-alert]\n",
        ]]
        let _: JSONValue = try await client.create(.configMaps, map, namespace: ns)
        let steps: JSONValue = [["setWeight": 50], ["analysis": ["templates": [["templateName": "latency"]]]], ["setWeight": 100]]
        try await TestCluster.createExampleCanary(in: ns, client: client, annotations: ["notifications.aviary.dev/subscribe.on-latency-alert.oncall": ""],
                                                  steps: steps)
        let controller = try ControllerProcess(namespace: ns)
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("1.0 Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2 }
        return (probe, controller)
    }

    @Test func aFailedMetricNotifiesAtOnceThenAbortsAfterTheGracePeriod() async throws {
        let client = try TestCluster.client()
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let (p, controller) = try await setUp("escalate", client: client, receiver: receiver, grace: "6s")
        defer { controller.kill() }
        try await p.setImage("registry.example/web:2.0")
        try await p.wait("held on the failed analysis") { $0.status?.pauseConditions?.first?.reason == .AnalysisEscalation }
        let heldSince = try #require(try await p.rollout().status?.pauseConditions?.first?.startTime.secondsSinceEpoch)
        let page = try #require(await receiver.waitFor(count: 1, timeout: .seconds(30)).first)
        let body = try JSONDecoder().decode(JSONValue.self, from: Data(page.body))
        let text = body["message"]?.stringValue ?? ""
        #expect(text.contains("p95 too high on web: p95 measured [3] (result < 2)"), "\(text)")
        #expect(text.contains("kubectl aviary ack web"), "\(text)")
        #expect(try await p.rollout().status?.abort != true, "held, not aborted, during the grace period")
        try await p.wait("aborted after the grace period", timeout: .seconds(60)) { $0.status?.abort == true }
        // From the status' own times (the test may see the hold late on a loaded machine), to the second.
        let abortedAt = try #require(try await p.rollout().status?.abortedAt?.secondsSinceEpoch)
        #expect(abortedAt - heldSince >= 5, "held at \(heldSince), aborted at \(abortedAt)")
        #expect(receiver.requests.count == 1, "one page for one failure")
        await TestCluster.deleteNamespace(p.namespace, client: client)
    }

    @Test func anAcknowledgementHoldsUntilSomeonePromotes() async throws {
        let client = try TestCluster.client()
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let (p, controller) = try await setUp("escalate-ack", client: client, receiver: receiver, grace: "4s")
        defer { controller.kill() }
        try await p.setImage("registry.example/web:2.0")
        try await p.wait("held on the failed analysis") { $0.status?.pauseConditions?.first?.reason == .AnalysisEscalation }
        try await client.perform(.ack, on: "web", namespace: p.namespace)
        try await Task.sleep(for: .seconds(8))
        let r = try await p.rollout()
        #expect(r.status?.abort != true, "acknowledged: not aborted after the grace period")
        #expect(r.status?.pauseConditions?.first?.reason == .AnalysisEscalation)
        try await p.promote()
        try await p.wait("promoted past it, completed") { $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash }
        await TestCluster.deleteNamespace(p.namespace, client: client)
    }
}
