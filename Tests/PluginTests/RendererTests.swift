import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Plugin

/// Golden output of `get rollout` and `list rollouts`, colour off.
@Suite struct RendererTests {
    static func replicaSet(_ hash: String, image: String, revision: Int, desired: Int, available: Int) -> ReplicaSet {
        var rs = ReplicaSet(
            metadata: ObjectMeta(name: "web-\(hash)", namespace: "shop", labels: [podTemplateHashLabel: hash],
                                 annotations: [revisionAnnotation: String(revision)]),
            spec: ReplicaSet.Spec(replicas: desired, selector: LabelSelector(matchLabels: ["app": "web"]),
                                  template: ["spec": ["containers": [["name": "web", "image": .string(image)]]]]))
        rs.status = .init(replicas: desired, readyReplicas: available, availableReplicas: available)
        return rs
    }

    static var rollout: Rollout {
        var r = Rollout(metadata: ObjectMeta(name: "web", namespace: "shop"),
                        spec: RolloutSpec(replicas: 4, strategy: RolloutStrategy(canary: CanaryStrategy(steps: [.weight(25), .analysis(RolloutAnalysis()), .weight(50)]))))
        r.metadata.generation = 2
        var s = RolloutStatus()
        s.observedGeneration = 2
        s.phase = .Progressing
        s.message = "waiting for analysis run web-bbb-1 (Running) at step 2/3"
        s.stableRS = "aaa"
        s.currentPodHash = "bbb"
        s.currentStepIndex = 1
        s.canary = CanaryStatus(weights: .init(canary: .init(weight: 25, podTemplateHash: "bbb"), stable: .init(weight: 75, podTemplateHash: "aaa")))
        s.replicas = 4
        s.updatedReplicas = 1
        s.readyReplicas = 4
        s.availableReplicas = 4
        r.status = s
        return r
    }

    @Test func getRolloutGolden() throws {
        let podJSON: JSONValue = ["metadata": ["name": "web-bbb-x1", "namespace": "shop", "labels": [.init(stringLiteral: podTemplateHashLabel): "bbb"]],
                                  "status": ["phase": "Running", "conditions": [["type": "Ready", "status": "True"]]]]
        let pod = try JSONDecoder().decode(Pod.self, from: try JSONEncoder().encode(podJSON))
        var run = AnalysisRun(metadata: ObjectMeta(name: "web-bbb-1", namespace: "shop", labels: [podTemplateHashLabel: "bbb"]), spec: AnalysisSpec(metrics: []))
        var rs = AnalysisRunStatus()
        rs.phase = .Running
        rs.summary = "success-rate=[0.99]"
        var counts = RunSummary()
        counts.count = 1
        rs.runSummary = counts
        run.status = rs
        let text = RolloutTree.render(.init(rollout: Self.rollout,
                                            replicaSets: [Self.replicaSet("aaa", image: "web:1", revision: 1, desired: 3, available: 3),
                                                          Self.replicaSet("bbb", image: "web:2", revision: 2, desired: 1, available: 1)],
                                            pods: [pod], runs: [run]), color: false)
        #expect(text == """
            Name:           web
            Namespace:      shop
            Status:         ◌ Progressing
            Message:        waiting for analysis run web-bbb-1 (Running) at step 2/3
            Strategy:       Canary
              Traffic:      replica split
              Step:         1/3
              SetWeight:    25
              ActualWeight: 25
            Images:         web:2 (canary), web:1 (stable)
            Replicas:
              Desired:      4
              Current:      4
              Updated:      1
              Ready:        4
              Available:    4

            NAME                   KIND         STATUS         INFO
            ⟳ web                  Rollout      ◌ Progressing
            ├──# revision:2
            │  └──⧉ web-bbb        ReplicaSet   ✔ Healthy      canary, 1/1 available
            │     ├──□ web-bbb-x1  Pod          ✔ Running      ready:1/1
            │     └──α web-bbb-1   AnalysisRun  ◌ Running      ✔ 0 ✖ 0 ? 0  success-rate=[0.99]
            └──# revision:1
               └──⧉ web-aaa        ReplicaSet   ✔ Healthy      stable, 3/3 available

            """)
    }

    @Test func listRolloutsGolden() {
        var bg = Self.rollout
        bg.metadata.name = "shop-front"
        bg.spec.strategy = RolloutStrategy(blueGreen: BlueGreenStrategy(activeService: "a"))
        bg.status?.phase = .Healthy
        #expect(RolloutList.render([Self.rollout, bg], withNamespace: false) == """
            NAME        STRATEGY   STATUS       STEP  SET-WEIGHT  READY  DESIRED  UP-TO-DATE  AVAILABLE
            shop-front  BlueGreen  Healthy      -     -           4/4    4        1           4
            web         Canary     Progressing  1/3   25          4/4    4        1           4

            """)
    }

    @Test func coloursOnlyWhenAsked() {
        let input = RolloutTree.Input(rollout: Self.rollout, replicaSets: [], pods: [], runs: [])
        #expect(!RolloutTree.render(input, color: false).contains("\u{1B}["))
        var healthy = Self.rollout
        healthy.status?.phase = .Healthy
        #expect(RolloutTree.render(.init(rollout: healthy, replicaSets: [], pods: [], runs: []), color: true).contains("\u{1B}[32m✔ Healthy"))
    }

    /// Argo's convention: a completed canary is at SetWeight 100 and ActualWeight 100; an aborted one at 0.
    @Test func aCompletedCanaryShowsWeight100AndAnAbortedOne0() {
        var done = Self.rollout
        done.status?.phase = .Healthy
        done.status?.stableRS = "bbb"
        done.status?.currentStepIndex = 3
        done.status?.canary = CanaryStatus(weights: .init(canary: .init(weight: 100, podTemplateHash: "bbb"), stable: .init(weight: 0, podTemplateHash: "bbb")))
        let sets = [Self.replicaSet("bbb", image: "web:2", revision: 2, desired: 4, available: 4)]
        let text = RolloutTree.render(.init(rollout: done, replicaSets: sets, pods: [], runs: []), color: false)
        #expect(text.contains("  SetWeight:    100\n"))
        #expect(text.contains("  ActualWeight: 100\n"))
        #expect(RolloutList.render([done], withNamespace: false).contains(" 100 "))

        var aborted = Self.rollout
        aborted.status?.abort = true
        aborted.status?.canary = CanaryStatus(weights: .init(canary: .init(weight: 0, podTemplateHash: "bbb"), stable: .init(weight: 100, podTemplateHash: "aaa")))
        let both = [Self.replicaSet("aaa", image: "web:1", revision: 1, desired: 4, available: 4),
                    Self.replicaSet("bbb", image: "web:2", revision: 2, desired: 1, available: 1)]
        let abortedText = RolloutTree.render(.init(rollout: aborted, replicaSets: both, pods: [], runs: []), color: false)
        #expect(abortedText.contains("  SetWeight:    0\n"))
        #expect(abortedText.contains("  ActualWeight: 0\n"))
    }
}
