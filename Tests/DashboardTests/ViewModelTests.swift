import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Plugin

/// The view models' JSON: the page codes against these keys.
@Suite struct ViewModelTests {
    @Test func rowShape() throws {
        let row = RolloutRow(Fixtures.rollout(), replicaSets: Fixtures.replicaSets)
        let json = try Fixtures.encode(row)
        #expect(Set(json.keys) == ["namespace", "name", "labels", "strategy", "phase", "icon", "message", "step", "stepCount",
                                   "setWeight", "actualWeight", "images", "ready", "desired", "updated", "available", "attention"])
        #expect(json["phase"] as? String == "Progressing")
        #expect(json["icon"] as? String == "◌")
        #expect(json["step"] as? Int == 1 && json["stepCount"] as? Int == 3)
        #expect(json["setWeight"] as? Int == 25 && json["actualWeight"] as? Int == 25)
        #expect(json["images"] as? [String] == ["web:2", "web:1"])
        #expect(json["attention"] as? Int == 2)
        // Without ReplicaSets (the CLI's list) the actual weight of a replica split is unknown, so absent.
        #expect(RolloutRow(Fixtures.rollout()).actualWeight == nil)
    }

    @Test func attentionFirst() {
        let rows = [Fixtures.rollout(name: "a", phase: .Healthy), Fixtures.rollout(name: "b", phase: .Progressing),
                    Fixtures.rollout(name: "c", phase: .Degraded), Fixtures.rollout(name: "d", phase: .Paused)]
            .map { RolloutRow($0) }.sorted(by: RolloutRow.attentionFirst)
        #expect(rows.map(\.name) == ["d", "c", "b", "a"])
    }

    @Test func summaryShape() throws {
        let summary = RolloutSummary(try Fixtures.input())
        let json = try Fixtures.encode(summary)
        #expect(Set(json.keys) == ["name", "namespace", "phase", "icon", "message", "strategy", "traffic", "routed", "step", "stepCount",
                                   "setWeight", "actualWeight", "routes", "paused", "aborted", "images", "replicas",
                                   "steps", "revisions", "analysisRuns", "conditions"])
        let steps = try #require(json["steps"] as? [[String: Any]])
        #expect(steps.map { $0["state"] as? String } == ["done", "current", "pending"])
        #expect(steps[1]["kind"] as? String == "analysis")
        #expect(steps[1]["waitingFor"] as? String == "analysis run web-bbb-1 (Running)")
        let revisions = try #require(json["revisions"] as? [[String: Any]])
        #expect(revisions.map { $0["revision"] as? Int } == [2, 1])
        let newest = try #require((revisions[0]["replicaSets"] as? [[String: Any]])?.first)
        #expect(newest["role"] as? String == "canary")
        #expect(Set(newest.keys) == ["name", "podTemplateHash", "role", "phase", "icon", "desired", "ready", "available", "images", "pods"])
        #expect((newest["pods"] as? [[String: Any]])?.first?["ready"] as? Bool == true)
        #expect(revisions[0]["analysisRuns"] as? [String] == ["web-bbb-1"])
        let run = try #require((json["analysisRuns"] as? [[String: Any]])?.first)
        #expect(run["slot"] as? String == "step 2")
        #expect(run["revision"] as? Int == 2)
        let metric = try #require((run["metrics"] as? [[String: Any]])?.first)
        let thresholds = try #require(metric["thresholds"] as? [[String: Any]])
        #expect(thresholds.count == 1)
        #expect(thresholds.first?["operator"] as? String == ">=" && thresholds.first?["value"] as? Double == 0.95)
        #expect(metric["failureLimit"] as? String == "2")
        let measurements = try #require(metric["measurements"] as? [[String: Any]])
        // "[0.99]" and "[0.97]" are numbers; NaN, an error and 1e400 (infinite) are not.
        #expect(measurements.map { $0["number"] as? Double } == [0.99, 0.97, nil, nil, nil])
        #expect(measurements[3]["phase"] as? String == "Error")
    }

    @Test func thresholdsAreReadFromSimpleComparisonsOnly() {
        #expect(RunMetric.thresholds("result[0] >= 0.95", "success") == [.init(condition: "success", operator: ">=", value: 0.95)])
        #expect(RunMetric.thresholds("0.5 < result", "failure") == [.init(condition: "failure", operator: ">", value: 0.5)])
        #expect(RunMetric.thresholds("asFloat(result) <= -3", "success") == [.init(condition: "success", operator: "<=", value: -3)])
        #expect(RunMetric.thresholds("len(result) == 0", "success").isEmpty)
        #expect(RunMetric.thresholds("result.status == 'ok'", "success").isEmpty)
        #expect(RunMetric.thresholds("result > 1e999", "success").isEmpty)
        #expect(RunMetric.thresholds(String(repeating: "(", count: 100_000), "success").isEmpty)
    }

    @Test func hostileStatusNeverTraps() throws {
        var r = Fixtures.rollout()
        r.status?.currentStepIndex = Int.max
        r.spec.strategy?.canary?.steps = [.setWeight(Int.max), .setWeight(Int.min), .pause(PauseStep()), .unsupported(kinds: ["x"])]
        r.status?.message = String(repeating: "é", count: 10_000)
        var big = Fixtures.replicaSet("bbb", image: "web:2", revision: Int.max, desired: Int.max, available: Int.max)
        big.status?.availableReplicas = Int.max
        let summary = RolloutSummary(.init(rollout: r, replicaSets: [big, big], pods: [], runs: [Fixtures.run(values: ["[" + String(repeating: "9", count: 5_000) + "]"])]))
        #expect(summary.step == 4)
        #expect((summary.message ?? "").utf8.count <= 4_096)
        _ = try JSONEncoder().encode(summary)
        _ = RolloutTree.render(summary, color: false)
    }
}
