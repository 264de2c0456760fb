import AviaryAPI
import Foundation
import Kube
import Testing

/// Tests that disturb the whole control plane. scripts/test.sh runs them in a
/// second `swift test` of their own, after the others, so nothing else is in
/// flight when the API server goes away.
@Suite(.serialized) struct DisruptiveTests {
    @Test func anAPIServerRestartMidRolloutIsSurvived() async throws {
        let client = try TestCluster.client()
        try await TestCluster.installCRDs()
        let ns = try await TestCluster.namespace("apiserver", client: client)
        for doc in try TestCluster.example("canary-rollout.yaml") {
            if doc["kind"] == "Rollout" {
                let r = doc.setting(["spec", "replicas"], to: 4).setting(["spec", "strategy", "canary", "steps"], to: RuntimeE2ETests.timedSteps)
                let _: JSONValue = try await client.create(Rollout.resource, r, namespace: ns)
            } else {
                let _: JSONValue = try await client.create(.services, doc, namespace: ns)
            }
        }
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        let p = RolloutProbe(client: client, namespace: ns, name: "web")
        try await p.wait("1.0 Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 4 }
        try await p.setImage("registry.example/web:2.0")
        try await p.wait("the rollout under way") { ($0.status?.currentStepIndex ?? 0) >= 1 && $0.status?.stableRS != $0.status?.currentPodHash }

        // Stop and start kube-apiserver mid-rollout.
        try await TestCluster.script("restart-apiserver")
        try await p.wait("completion after the restart", timeout: .seconds(90)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash
        }
        #expect(controller.isRunning, "the controller rode it out")
        let steps = try await p.events().map(\.message).filter { $0.hasPrefix("Rollout step ") }
        for n in 1...6 {
            #expect(steps.filter { $0.hasPrefix("Rollout step \(n)/6 completed") }.count == 1, "step \(n) completed exactly once: \(steps)")
        }
        let rs: ObjectList<ReplicaSet> = try await client.list(.replicaSets, namespace: ns)
        #expect(rs.items.count == 2, "no duplicate ReplicaSet")
        #expect(try await p.sizes()["registry.example/web:2.0"]?.available == 4)
        // Later changes are still seen: the watches resumed or relisted.
        try await p.setImage("registry.example/web:3.0")
        try await p.wait("a change after the restart is acted on", timeout: .seconds(60)) { $0.status?.phase == .Healthy && $0.status?.observedGeneration == 3 }
        await TestCluster.deleteNamespace(ns, client: client)
    }
}
