import AviaryAPI
import KubeAPI
import Testing
@testable import Rollouts

/// The blue-green plan in each stage, driven through an in-memory world that
/// checks after every plan that no Service selects a ReplicaSet without
/// available pods and that available pods never drop below replicas.
@Suite struct BlueGreenPlannerTests {
    static let check = AnalysisTemplate(
        metadata: ObjectMeta(name: "check", namespace: "default"),
        spec: AnalysisSpec(metrics: [Metric(name: "check", successCondition: "result == 1", provider: MetricProvider(web: WebMetric(url: "http://x")))]))
    static let analysis = RolloutAnalysis(templates: [AnalysisTemplateRef(templateName: "check")])

    func deployed(_ configure: (inout BlueGreenStrategy) -> Void = { _ in }) -> World {
        var w = World.blueGreen(configure)
        w.templates = TemplateCatalog(namespaced: ["check": Self.check])
        w.settle()
        return w
    }

    @Test func theFirstDeployServesOnActiveAndPreview() {
        let w = deployed()
        #expect(w.status.phase == .Healthy)
        #expect(w.size("web:1") == 4)
        #expect(w.selector("web-active") == w.hash("web:1"))
        #expect(w.selector("web-preview") == w.hash("web:1"))
        #expect(w.status.blueGreen?.activeSelector == w.hash("web:1"))
    }

    @Test func manualPromotionPreviewThenCutoverThenDelayedScaleDown() {
        var w = deployed { $0.autoPromotionEnabled = false; $0.previewReplicaCount = 2; $0.scaleDownDelaySeconds = 30 }
        w.setImage("web:2")
        w.settle()
        // Preview: the new ReplicaSet at previewReplicaCount, on the preview Service only.
        #expect((w.size("web:2"), w.size("web:1")) == (2, 4))
        #expect(w.selector("web-preview") == w.hash("web:2"))
        #expect(w.selector("web-active") == w.hash("web:1"))
        #expect(w.status.phase == .Paused)
        #expect(w.status.message == "BlueGreenPause")
        #expect(w.status.pauseConditions?.map(\.reason) == [.BlueGreenPause])
        #expect(w.status.blueGreen?.stage == .Preview)
        w.advance(3600)
        w.settle()
        #expect(w.selector("web-active") == w.hash("web:1"), "it waits for a promote")

        // Promote: full size first; active switches only when every pod is available.
        w.rollout.status?.pauseConditions = nil
        w.reconcile()
        #expect(w.size("web:2") == 4)
        #expect(w.selector("web-active") == w.hash("web:1"))
        #expect(w.status.blueGreen?.stage == .Promoting)
        #expect(w.status.message?.hasPrefix("active service cutover pending") == true, "\(w.status.message ?? "")")
        w.tick()
        w.settle()
        #expect(w.selector("web-active") == w.hash("web:2"))
        #expect(w.status.stableRS == w.hash("web:2"))
        #expect(w.status.phase == .Healthy)
        // The old ReplicaSet keeps running for scaleDownDelaySeconds: the instant rollback.
        #expect(w.size("web:1") == 4)
        w.advance(29)
        w.settle()
        #expect(w.size("web:1") == 4)
        w.advance(1)
        w.settle()
        #expect(w.size("web:1") == 0)
        #expect(w.events.contains("SwitchService") && w.events.contains("RolloutPromoted"))
    }

    @Test func autoPromotionSecondsPromotesAfterTheDelay() {
        var w = deployed { $0.autoPromotionSeconds = 20 }
        w.setImage("web:2")
        w.settle()
        #expect(w.status.phase == .Paused)
        #expect(w.lastPlan?.requeueAfter == 20)
        w.advance(19)
        w.settle()
        #expect(w.selector("web-active") == w.hash("web:1"))
        w.advance(1)
        w.settle()
        #expect(w.selector("web-active") == w.hash("web:2"))
        #expect(w.status.stableRS == w.hash("web:2"))
    }

    @Test func withoutAGateItPromotesAsSoonAsThePreviewIsAvailable() {
        var w = deployed()
        w.setImage("web:2")
        w.settle()
        #expect(w.selector("web-active") == w.hash("web:2"))
        #expect(w.status.phase == .Healthy)
    }

    @Test func abortBeforePromotionLeavesActiveAlone() {
        var w = deployed { $0.autoPromotionEnabled = false; $0.abortScaleDownDelaySeconds = 10 }
        w.setImage("web:2")
        w.settle()
        #expect(w.selector("web-preview") == w.hash("web:2"))
        w.rollout.status?.abort = true
        w.settle()
        #expect(w.selector("web-active") == w.hash("web:1"))
        #expect(w.selector("web-preview") == w.hash("web:1"))
        #expect(w.status.phase == .Degraded)
        #expect(w.size("web:2") == 4, "the preview waits out abortScaleDownDelaySeconds")
        w.advance(10)
        w.settle()
        #expect(w.size("web:2") == 0)
        #expect(!w.events.contains("RolloutPromoted"))
    }

    /// Abort in each stage: active ends on stable at once, preview too.
    @Test(arguments: [BlueGreenStage.Preview, .Promoting, .PostPromotion])
    func abortInEachStageRestoresActiveToStable(stage: BlueGreenStage) {
        var w = deployed { $0.autoPromotionEnabled = false; $0.previewReplicaCount = 2; $0.postPromotionAnalysis = Self.analysis }
        w.setImage("web:2")
        w.settle()
        if stage != .Preview {
            w.rollout.status?.pauseConditions = nil
            w.reconcile()
            if stage == .PostPromotion { w.settle() }
        }
        #expect(w.status.blueGreen?.stage == stage)
        w.rollout.status?.abort = true
        w.reconcile()
        #expect(w.selector("web-active") == w.hash("web:1"), "active back on stable in the same reconcile")
        #expect(w.selector("web-preview") == w.hash("web:1"))
        #expect(w.status.phase == .Degraded)
        #expect(w.status.stableRS == w.hash("web:1"))
        #expect(w.analysisRuns.values.allSatisfy { $0.spec.terminate == true || $0.phase.isTerminal }, "running analysis is terminated")
    }

    @Test func scaleDownDelayRevisionLimitBoundsTheOldVersionsKeptRunning() {
        var w = deployed { $0.scaleDownDelaySeconds = 60; $0.scaleDownDelayRevisionLimit = 1 }
        w.setImage("web:2")
        w.settle()
        w.setImage("web:3")
        w.settle()
        #expect(w.status.stableRS == w.hash("web:3"))
        #expect(w.size("web:2") == 4, "the newest old version waits out its delay")
        #expect(w.size("web:1") == 0, "older ones beyond the limit go at once")
    }

    @Test func aFailedPrePromotionAnalysisAbortsWithoutSwitching() throws {
        var w = deployed { $0.prePromotionAnalysis = Self.analysis }
        w.setImage("web:2")
        w.settle()
        let run = "web-\(w.hash("web:2"))-pre"
        #expect(w.analysisRuns[run] != nil)
        #expect(w.status.message == "waiting for pre-promotion analysis run \(run)")
        #expect(w.selector("web-active") == w.hash("web:1"))
        w.finishRun(run, .Failed, message: "check: 0 did not satisfy result == 1 (1 failures > failureLimit 0)")
        w.settle()
        #expect(w.status.abort == true)
        #expect(w.status.message?.contains("analysis run \(run) Failed: check: 0 did not satisfy result == 1") == true)
        #expect(w.selector("web-active") == w.hash("web:1"))
    }

    @Test func aFailedPostPromotionAnalysisSwitchesActiveBack() {
        var w = deployed { $0.postPromotionAnalysis = Self.analysis }
        w.setImage("web:2")
        w.settle()
        let run = "web-\(w.hash("web:2"))-post"
        #expect(w.selector("web-active") == w.hash("web:2"), "the cutover happened")
        #expect(w.status.blueGreen?.stage == .PostPromotion)
        #expect(w.status.stableRS == w.hash("web:1"), "not stable until post-promotion analysis passes")
        #expect(w.size("web:1") == 4, "the old version is still up")
        w.finishRun(run, .Failed, message: "check: 0 did not satisfy result == 1 (1 failures > failureLimit 0)")
        w.reconcile()
        #expect(w.selector("web-active") == w.hash("web:1"), "switched back in the same reconcile")
        #expect(w.status.abort == true)
        #expect(w.status.phase == .Degraded)
    }

    @Test func aPassingPostPromotionAnalysisMakesItStable() {
        var w = deployed { $0.postPromotionAnalysis = Self.analysis }
        w.setImage("web:2")
        w.settle()
        w.finishRun("web-\(w.hash("web:2"))-post", .Successful)
        w.settle()
        #expect(w.status.stableRS == w.hash("web:2"))
        #expect(w.status.phase == .Healthy)
    }

    @Test func anUndoInsideTheRollbackWindowSkipsAnalysisAndPauses() {
        var w = deployed { $0.autoPromotionEnabled = false; $0.prePromotionAnalysis = Self.analysis; $0.scaleDownDelaySeconds = 5 }
        w.rollout.spec.rollbackWindow = RollbackWindow(revisions: 2)
        w.setImage("web:2")
        w.settle()
        w.finishRun("web-\(w.hash("web:2"))-pre", .Successful)
        w.settle()
        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(w.status.stableRS == w.hash("web:2"))
        w.advance(5)
        w.settle()
        #expect(w.size("web:1") == 0)

        let runsBefore = w.analysisRuns.count
        w.setImage("web:1")
        w.settle()
        #expect(w.status.stableRS == w.hash("web:1"), "promoted without a pause")
        #expect(w.analysisRuns.count == runsBefore, "and without analysis")
        #expect(w.events.contains("RolloutRollback"))
        #expect(w.selector("web-active") == w.hash("web:1"))
    }

    /// The CI failure: the old ReplicaSet was just scaled to 0 and still
    /// reported its pods as available when the undo came; preview switched to
    /// pods on their way out. A ReplicaSet counts no more pods than its size.
    @Test func anUndoRightAfterTheScaleDownWaitsForPodsThatStay() {
        var w = deployed { $0.scaleDownDelaySeconds = 5 }
        w.rollout.spec.rollbackWindow = RollbackWindow(revisions: 2)
        w.setImage("web:2")
        w.settle()
        w.advance(5)
        w.settle()
        #expect(w.size("web:1") == 0)
        // Its controller has not caught up: spec says 0, status still says 4.
        let old = w.replicaSets.first { $0.value.podTemplateHash == w.hash("web:1") }!.key
        w.replicaSets[old]?.status = .init(replicas: 4, readyReplicas: 4, availableReplicas: 4)

        w.setImage("web:1")
        _ = w.reconcile()
        #expect(w.selector("web-preview") == w.hash("web:2"), "preview stays on pods that serve")
        #expect(w.selector("web-active") == w.hash("web:2"))
        #expect(w.size("web:1") == 4)
        // Scaled up again: the size now matches the stale count, but the status predates the
        // spec (observedGeneration behind) and the pod cache has no ready pod of it.
        w.replicaSets[old]?.metadata.generation = 3
        w.replicaSets[old]?.status = .init(replicas: 4, readyReplicas: 4, availableReplicas: 4, observedGeneration: 1)
        _ = w.reconcile()
        #expect(w.selector("web-preview") == w.hash("web:2"), "no cutover on a status older than the spec")
        #expect(w.selector("web-active") == w.hash("web:2"))
        w.replicaSets[old]?.status = .init(replicas: 0, readyReplicas: 0, availableReplicas: 0, observedGeneration: 3)
        w.settle()
        #expect(w.selector("web-preview") == w.hash("web:1"))
        #expect(w.selector("web-active") == w.hash("web:1"))
    }

    @Test func aCanaryUndoInsideTheRollbackWindowSkipsTheSteps() {
        var w = World(steps: [.weight(20), .pause()])
        w.rollout.spec.rollbackWindow = RollbackWindow(revisions: 1)
        w.settle()
        w.setImage("web:2")
        w.settle()
        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(w.status.stableRS == w.hash("web:2"))
        w.setImage("web:1")
        w.settle()
        #expect(w.status.stableRS == w.hash("web:1"), "no indefinite pause on the way back")
        #expect(w.events.contains("RolloutRollback"))
    }

    enum Breakage: CaseIterable, Sendable {
        case missingPreview, sameService, foreignSelector, noActive

        func apply(_ w: inout World) {
            switch self {
            case .missingPreview: w.services["web-preview"] = nil
            case .sameService: w.rollout.spec.strategy?.blueGreen?.previewService = "web-active"
            case .foreignSelector: w.services["web-active"]?.spec?.selector = ["app": "api"]
            case .noActive: w.rollout.spec.strategy?.blueGreen?.activeService = nil
            }
        }

        var message: String {
            switch self {
            case .missingPreview: "spec.strategy.blueGreen.previewService: Service \"web-preview\" not found"
            case .sameService: "spec.strategy.blueGreen.previewService: must differ from activeService (\"web-active\")"
            case .foreignSelector: "spec.strategy.blueGreen.activeService: Service \"web-active\" selects app=api, which spec.template.metadata.labels does not match"
            case .noActive: "spec.strategy.blueGreen.activeService: required"
            }
        }
    }

    @Test(arguments: Breakage.allCases)
    func badServicesAreAnInvalidSpecAndNothingSwitches(breakage: Breakage) {
        var w = World.blueGreen()
        breakage.apply(&w)
        w.settle()
        #expect(w.status.condition(.InvalidSpec)?.message == breakage.message)
        #expect(w.status.phase == .Degraded)
        #expect(w.replicaSets.isEmpty)
        #expect(w.lastPlan?.actions.contains { if case .switchService = $0 { return true } else { return false } } == false)
    }
}
