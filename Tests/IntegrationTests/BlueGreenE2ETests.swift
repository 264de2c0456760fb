import AviaryAPI
import Foundation
import Kube
import Rollouts
import Testing

/// Blue-green end to end: the real controller, API server, Prometheus and the
/// simulator, with examples/bluegreen-rollout.yaml tuned for a test. A sampler
/// checks throughout that the active Service always selects a ReplicaSet with
/// every pod available.
@Suite struct BlueGreenE2ETests {
    typealias Setup = E2ESetup

    /// The example, deployed and Healthy at 1.0; `edit` changes its blueGreen strategy and spec.
    func start(_ prefix: String, edit: (JSONValue) -> JSONValue = { $0 }) async throws -> Setup {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace(prefix, client: client)
        let prometheus = try AnalysisE2ETests.prometheusURL
        for t in try AnalysisE2ETests.templates(prometheus: prometheus) {
            let _: JSONValue = try await client.create(AnalysisTemplate.resource, t, namespace: ns)
        }
        for doc in try TestCluster.example("bluegreen-rollout.yaml") {
            if doc["kind"] == "Rollout" {
                let tuned = doc.overlaid(with: ["spec": ["strategy": ["blueGreen": [
                    "scaleDownDelaySeconds": 3, "abortScaleDownDelaySeconds": 2,
                    "prePromotionAnalysis": ["args": [["name": "service", "value": "shop"], ["name": "prometheus", "value": .string(prometheus)]]],
                ]]]])
                let _: JSONValue = try await client.create(Rollout.resource, edit(tuned), namespace: ns)
            } else {
                let _: JSONValue = try await client.create(.services, doc, namespace: ns)
            }
        }
        let controller = try ControllerProcess(namespace: ns)
        let probe = RolloutProbe(client: client, namespace: ns, name: "shop")
        try await probe.wait("shop:1.0 to be Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == $0.spec.replicas }
        let sampler = ZeroDowntimeSampler(client: client, namespace: ns, minAvailable: 4, services: ["shop-active", "shop-preview"],
                                          fullServices: ["shop-active"])
        await sampler.start()
        return Setup(client: client, ns: ns, probe: probe, controller: controller, sampler: sampler)
    }

    func finish(_ s: Setup) async { await s.finish() }

    func selector(_ s: Setup, _ service: String) async throws -> String? {
        let svc: Service = try await s.client.get(.services, service, namespace: s.ns)
        return svc.spec?.selector?[podTemplateHashLabel]
    }

    /// A new version: image and the simulator's error rate for its pods.
    func release(_ s: Setup, _ image: String, errorRate: Double = 0) async throws {
        let patch: JSONValue = ["spec": ["template": [
            "metadata": ["annotations": ["podsim.aviary.dev/error-rate": .string(String(errorRate))]],
            "spec": ["containers": [["name": "shop", "image": .string(image)]]],
        ]]]
        let _: JSONValue = try await s.client.patch(Rollout.resource, "shop", namespace: s.ns, .merge(patch))
    }

    @Test func manualPromotionPreviewsThenSwitchesThenScalesTheOldDown() async throws {
        // A delay long enough that a loaded machine still sees the old version running after it sees the cutover.
        let s = try await start("bg-manual") { $0.overlaid(with: ["spec": ["strategy": ["blueGreen": ["scaleDownDelaySeconds": 12]]]]) }
        let p = s.probe
        let blue = try await p.rollout().status?.stableRS
        try await release(s, "registry.example/shop:2.0")
        try await p.wait("pre-promotion analysis, then the pause before promotion", timeout: .seconds(60)) {
            $0.status?.phase == .Paused && $0.status?.pauseConditions?.first?.reason == .BlueGreenPause
        }
        let paused = try await p.rollout()
        let green = paused.status?.currentPodHash
        #expect(try await selector(s, "shop-preview") == green, "preview serves the new ReplicaSet")
        #expect(try await selector(s, "shop-active") == blue, "active still serves the old one")
        #expect(paused.status?.blueGreen?.previewSelector == green && paused.status?.blueGreen?.activeSelector == blue)
        #expect(try await p.sizes()["registry.example/shop:2.0"]?.desired == 2, "previewReplicaCount")
        let pre: AnalysisRun = try await s.client.get(AnalysisRun.resource, "shop-\(green ?? "")-pre", namespace: s.ns)
        #expect(pre.phase == .Successful)
        let previewPods: ObjectList<Pod> = try await s.client.list(.pods, namespace: s.ns, options: ListOptions(labelSelector: "role=preview"))
        #expect(previewPods.items.count == 2, "previewMetadata labels the preview pods")

        try await p.promote()
        try await p.wait("the cutover", timeout: .seconds(60)) { $0.status?.phase == .Healthy && $0.status?.stableRS == green }
        let promotedAt = ContinuousClock.now
        #expect(try await selector(s, "shop-active") == green)
        #expect(try await p.sizes()["registry.example/shop:1.0"]?.desired == 4, "the old version still runs during scaleDownDelaySeconds")
        try await eventually("the old ReplicaSet scaled to 0 after the delay", timeout: .seconds(60)) {
            try await p.sizes()["registry.example/shop:1.0"]?.desired == 0
        }
        // The deadline is kept in whole seconds and the cutover was seen a little after it happened,
        // so allow slack; "at once" would be well under it.
        #expect(ContinuousClock.now - promotedAt >= .seconds(5), "not before the delay")
        await finish(s)
    }

    @Test func aPostPromotionFailureSwitchesActiveBack() async throws {
        let s = try await start("bg-post") { r in
            r.overlaid(with: ["spec": ["strategy": ["blueGreen": [
                "autoPromotionEnabled": true, "prePromotionAnalysis": nil,
                "postPromotionAnalysis": ["templates": [["templateName": "success-rate"]],
                                          "args": [["name": "service", "value": "shop"], ["name": "prometheus", "value": .string(try! AnalysisE2ETests.prometheusURL)]]],
            ]]]])
        }
        let p = s.probe
        let blue = try await p.rollout().status?.stableRS
        try await release(s, "registry.example/shop:2.0", errorRate: 0.5)
        let green = try await eventuallyValue("the cutover to the new version") { () -> String? in
            let r = try await p.rollout()
            return r.status?.blueGreen?.stage == .PostPromotion ? r.status?.currentPodHash : nil
        }
        #expect(try await selector(s, "shop-active") == green)
        // The simulator fails half the new version's requests: post-promotion analysis fails...
        let run = "shop-\(green)-post"
        try await eventually("post-promotion analysis to fail", timeout: .seconds(60)) {
            let r: AnalysisRun = try await s.client.get(AnalysisRun.resource, run, namespace: s.ns)
            return r.phase == .Failed
        }
        // ...and active is back on the old ReplicaSet, still up, within an interval (2 s).
        try await eventually("active back on the old version", timeout: .seconds(2)) { try await selector(s, "shop-active") == blue }
        try await p.wait("the rollout marked aborted") { $0.status?.abort == true && $0.status?.phase == .Degraded }
        let r = try await p.rollout()
        #expect(r.status?.message?.contains("analysis run \(run) Failed: success-rate: [0.5] did not satisfy") == true, "\(r.status?.message ?? "")")
        await finish(s)
    }

    @Test func anAbortBeforePromotionLeavesActiveUntouched() async throws {
        let s = try await start("bg-abort")
        let p = s.probe
        let blue = try await p.rollout().status?.stableRS
        try await release(s, "registry.example/shop:2.0")
        try await p.wait("the pause before promotion", timeout: .seconds(60)) { $0.status?.phase == .Paused }
        try await p.abort()
        try await p.wait("Degraded after the abort") { $0.status?.phase == .Degraded }
        #expect(try await selector(s, "shop-active") == blue)
        try await eventually("preview back on the old version and the new one scaled down") {
            let previewOnBlue = try await selector(s, "shop-preview") == blue
            let greenSize = try await p.sizes()["registry.example/shop:2.0"]?.desired
            return previewOnBlue && greenSize == 0
        }
        let promoted = try await p.events().contains { $0.reason == "RolloutPromoted" }
        #expect(!promoted)
        await finish(s)
    }

    @Test func anUndoInsideTheRollbackWindowSkipsAnalysis() async throws {
        let s = try await start("bg-undo")
        let p = s.probe
        let first = try await p.rollout()
        let blue = first.status?.stableRS
        try await release(s, "registry.example/shop:2.0")
        try await p.wait("the pause before promotion", timeout: .seconds(60)) { $0.status?.phase == .Paused }
        try await p.promote()
        try await p.wait("2.0 active", timeout: .seconds(60)) { $0.status?.phase == .Healthy && $0.status?.stableRS != blue }
        let runs: ObjectList<AnalysisRun> = try await s.client.list(AnalysisRun.resource, namespace: s.ns)
        let pausesBefore = try await p.events().filter { $0.reason == "RolloutPaused" }.count

        // Undo, as `kubectl aviary undo` does it: 1.0's template back, without the
        // role labels the controller put on its ReplicaSet. Inside the window: no analysis, no pause.
        let undone = try await s.client.perform(.undo(toRevision: nil), on: "shop", namespace: s.ns)
        #expect(undone.revision == 1)
        try await p.wait("1.0 active again", timeout: .seconds(60)) { $0.status?.phase == .Healthy && $0.status?.stableRS == blue }
        #expect(try await selector(s, "shop-active") == blue)
        let after: ObjectList<AnalysisRun> = try await s.client.list(AnalysisRun.resource, namespace: s.ns)
        #expect(after.items.count == runs.items.count, "no new AnalysisRun")
        #expect(try await p.events().contains { $0.reason == "RolloutRollback" })
        let pausesAfter = try await p.events().filter { $0.reason == "RolloutPaused" }.count
        #expect(pausesAfter == pausesBefore, "no pause on the way back")
        await finish(s)
    }
}
