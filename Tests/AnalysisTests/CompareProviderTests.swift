import AviaryAPI
import Foundation
import Kube
import Testing
@testable import Analysis
@testable import AnalysisCore

/// `provider.compare`: the spec checked field by field, hostile answers, and
/// the measurement's value and message.
@Suite struct CompareProviderTests {
    static let template = """
    {"apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": {"name": "judge"},
     "spec": {"metrics": [{"name": "canary-judge", "interval": "10s", "count": 3, "provider": {"compare": {
       "prometheus": {"address": "http://prometheus:9090", "rangeQuery": {"start": "now() - duration('2m')", "step": "5s"}},
       "canary": "{{args.canary-hash}}", "baseline": "{{args.stable-hash}}", "confidence": 0.98,
       "thresholds": {"pass": 90, "marginal": 50},
       "metrics": [
         {"name": "latency", "query": "sum(rate(x_sum{h=\\"{{hash}}\\"}[30s]))", "direction": "increase",
          "effectSize": {"allowedIncrease": 1.1}, "critical": true},
         {"name": "errors", "query": "sum(rate(e{h=\\"{{hash}}\\"}[30s]))", "tolerance": 0.5, "weight": 2}]}}}]}}
    """

    func metric(_ edit: (inout CompareMetric) -> Void = { _ in }) throws -> Metric {
        let t = try JSONDecoder().decode(AnalysisTemplate.self, from: Data(Self.template.utf8))
        var m = try #require(t.spec.metrics.first)
        var c = try #require(m.provider.compare)
        edit(&c)
        m.provider.compare = c
        return m
    }

    @Test func aTemplateDecodesAndPlans() throws {
        let m = try metric()
        #expect(m.provider.kind == "compare")
        let plan = try ComparePlan(try #require(m.provider.compare), metric: m.name)
        #expect(plan.thresholds == CanaryScore.Thresholds(pass: 90, marginal: 50))
        #expect(plan.queries.map(\.name) == ["latency", "errors"])
        #expect(plan.queries[0].critical && plan.queries[0].settings.allowedIncrease == 1.1 && plan.queries[0].settings.direction == .increase)
        #expect(plan.queries[1].weight == 2 && plan.queries[1].settings.tolerance == 0.5 && plan.queries[1].settings.confidence == 0.98)
        _ = try MetricPlan(m)
    }

    func refusal(_ edit: (inout CompareMetric) -> Void) throws -> String {
        let m = try metric(edit)
        do {
            _ = try MetricPlan(m)
            return "accepted"
        } catch {
            return "\(error)"
        }
    }

    @Test func everyOutOfRangeFieldIsNamed() throws {
        #expect(try refusal { $0.confidence = 1 }.contains("provider.compare.confidence: 1.0 is outside between 0.5 and 1.0, exclusive"))
        #expect(try refusal { $0.confidence = -0.3 }.contains("provider.compare.confidence"))
        #expect(try refusal { $0.minSamples = 1_000_000_000 }.contains("provider.compare.minSamples: 1000000000 is outside 3–1000"))
        #expect(try refusal { $0.thresholds = CompareThresholds(pass: 50, marginal: 80) }.contains("thresholds: marginal 80.0 is above pass 50.0"))
        #expect(try refusal { $0.thresholds = CompareThresholds(pass: 101) }.contains("thresholds.pass: 101.0 is outside 0.0–100.0"))
        #expect(try refusal { $0.metrics[0].direction = "sideways" }.contains("metrics[0].direction: \"sideways\" is not increase, decrease or either"))
        #expect(try refusal { $0.metrics[1].tolerance = 1e300 }.contains("metrics[1].tolerance"))
        #expect(try refusal { $0.metrics[0].effectSize = CompareEffectSize(allowedIncrease: 0.5) }.contains("metrics[0].effectSize.allowedIncrease: 0.5"))
        #expect(try refusal { $0.metrics[0].effectSize = CompareEffectSize(allowedDecrease: 2) }.contains("metrics[0].effectSize.allowedDecrease: 2.0"))
        #expect(try refusal { $0.metrics[1].weight = 0 }.contains("metrics[1].weight: 0"))
        #expect(try refusal { $0.metrics[1].name = "latency" }.contains("metrics[1].name: \"latency\" is named twice"))
        #expect(try refusal { $0.metrics[0].query = "up" }.contains("metrics[0].query: has no {{hash}}"))
        #expect(try refusal { $0.metrics = [] }.contains("metrics: at least one"))
        #expect(try refusal { $0.canary = nil }.contains("provider.compare.canary: required"))
        #expect(try refusal { $0.prometheus = nil }.contains("provider.compare.prometheus: required"))
        #expect(try refusal { $0.prometheus?.rangeQuery?.step = "0s" }.contains("provider.compare.prometheus.rangeQuery.step"))
        var withCondition = try metric()
        withCondition.successCondition = "result.score > 90"
        #expect(throws: MetricSpecError.self) { try MetricPlan(withCondition) }
    }

    @Test func hashesMustBeHashes() {
        #expect(throws: ProviderError.self) { try Measurer.hash("abc\"} or vector(1) #", field: "canary") }
        #expect(throws: ProviderError.self) { try Measurer.hash("", field: "baseline") }
        #expect(throws: ProviderError.self) { try Measurer.hash(String(repeating: "a", count: 64), field: "baseline") }
        #expect((try? Measurer.hash("6d4f8b9c7", field: "canary")) == "6d4f8b9c7")
    }

    @Test func hostileSamplesAreDroppedAndCounted() {
        let answer: JSONValue = [[.number(.nan), .number(.infinity), .number(-1e300), 0.2, "0.3", .null, [[[[[1]]]]]], .number(0.25)]
        let s = CompareSamples(answer)
        #expect(s.values == [0.2, 0.25])
        #expect(s.dropped == 5)
    }

    func answers(_ canary: [Double], _ baseline: [Double], errors: (canary: [Double], baseline: [Double])? = nil) -> [JSONValue] {
        let e = errors ?? (Array(repeating: 0.0, count: canary.count), Array(repeating: 0.0, count: baseline.count))
        return [.array(canary.map { .number($0) }), .array(baseline.map { .number($0) }),
                .array(e.canary.map { .number($0) }), .array(e.baseline.map { .number($0) })]
    }

    @Test func aSlowCanaryFailsTheScoreWithItsNumbersInTheValue() throws {
        let plan = try ComparePlan(try #require(try metric().provider.compare), metric: "canary-judge")
        let verdict = try Measurer.judgeComparison(plan, values: answers(CanaryJudgementTests.series(0.26), CanaryJudgementTests.series(0.2, phase: 3)))
        #expect(verdict.phase == .Failed)
        #expect(verdict.message.hasPrefix("score 0 (pass 90, marginal 50): latency High (critical): canary median 0.26"), "\(verdict.message)")
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(verdict.value.utf8))
        #expect(value["score"] == 0)
        let latency = try #require(value["metrics"]?[0])
        #expect(latency["result"] == "High" && latency["canary"]?["n"] == 24 && latency["baseline"]?["n"] == 24)
        #expect(latency["pValue"]?.numberValue.map { $0 < 0.001 } == true)
        #expect(latency["effect"]?.numberValue.map { abs($0 - 0.3) < 0.05 } == true)
        // All-zero error rates on both sides: every value tied, no evidence, a Pass.
        #expect(value["metrics"]?[1]?["result"] == "Pass")
    }

    @Test func noiseAndMissingData() throws {
        let plan = try ComparePlan(try #require(try metric().provider.compare), metric: "canary-judge")
        let same = try Measurer.judgeComparison(plan, values: answers(CanaryJudgementTests.series(0.2, phase: 1), CanaryJudgementTests.series(0.2, phase: 4)))
        #expect(same.phase == .Successful, "\(same.message)")
        #expect(same.message == "score 100 (pass 90, marginal 50)")
        let empty = try Measurer.judgeComparison(plan, values: [[], [], [], []])
        #expect(empty.phase == .Inconclusive && empty.message.hasPrefix("no score"), "\(empty.message)")
        let nan = try Measurer.judgeComparison(plan, values: answers([.nan, .nan], [.nan]))
        #expect(nan.phase == .Inconclusive)
        #expect(nan.value.contains("\"dropped\":2"), "\(nan.value)")
    }

    @Test func tooManySamplesIsAnErrorSayingWhatToDo() throws {
        let plan = try ComparePlan(try #require(try metric().provider.compare), metric: "canary-judge")
        let many = Array(repeating: 0.2, count: ComparePlan.maxSamples + 1)
        #expect {
            try Measurer.judgeComparison(plan, values: answers(many, [0.2]))
        } throws: { "\($0)".contains("latency: canary: 1001 samples, more than 1000; raise rangeQuery.step") }
    }
}

private extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }

    var numberValue: Double? {
        guard case .number(let n) = self else { return nil }
        return n
    }
}

@Suite struct CompareValueTests {
    @Test func theScoreComesFirstAndNamesAreEscaped() throws {
        var m = try CompareProviderTests().metric()
        m.provider.compare?.metrics[1].name = "errors \"5xx\""
        let plan = try ComparePlan(try #require(m.provider.compare), metric: m.name)
        let verdict = try Measurer.judgeComparison(plan, values: [[0.2, 0.2, 0.2, 0.2, 0.2], [0.2, 0.2, 0.2, 0.2, 0.2], [], []])
        #expect(verdict.value.hasPrefix("{\"score\":100,\"metrics\":[{\"name\":\"latency\",\"result\":\"Pass\",\"critical\":true,"), "\(verdict.value)")
        #expect(verdict.value.contains("{\"name\":\"errors \\\"5xx\\\"\",\"result\":\"NoData\""), "\(verdict.value)")
        _ = try JSONDecoder().decode(JSONValue.self, from: Data(verdict.value.utf8))
        #expect(verdict.phase == .Inconclusive, "a metric without data: \(verdict.message)")
    }
}
