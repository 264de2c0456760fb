import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Rollouts

/// The analysis checks `aviary lint` adds to the controller's: what would run
/// but fail, pass without measuring, or never end.
@Suite struct AnalysisLintTests {
    static func metric(_ name: String, interval: String? = nil, count: IntOrString? = nil, condition: String = "result >= 0.95",
                       query: String = "vector(1)") -> Metric {
        Metric(name: name, interval: interval, count: count, successCondition: condition,
               provider: MetricProvider(prometheus: PrometheusMetric(address: "http://prometheus:9090", query: query)))
    }

    static func template(_ name: String, args: [AnalysisArgument]? = nil, _ metrics: [Metric]) -> AnalysisTemplate {
        AnalysisTemplate(metadata: ObjectMeta(name: name), spec: AnalysisSpec(args: args, metrics: metrics))
    }

    @Test func theExamplesAndTheOpsFormsAreClean() {
        let t = Self.template("ok", args: [AnalysisArgument(name: "service")], [
            Self.metric("rate", interval: "5s", count: 6, condition: "result >= 0.95", query: "sum(rate(x{service=\"{{ args.service }}\"}[1m]))"),
            Self.metric("p95", interval: "5s", count: .string("6"), condition: "len(result) == 0 || isNaN(result[0]) || result[0] < 0.5"),
        ])
        #expect(AnalysisLint.problems(t).isEmpty)
    }

    @Test func countZeroAsTextIsCaughtToo() {
        let t = Self.template("t", [Self.metric("m", count: .string("0"))])
        #expect(AnalysisLint.problems(t) == [
            "metric \"m\": count: 0 takes no measurement, so the metric would pass without measuring anything; leave count out for one measurement, or set how many to take",
        ])
    }

    /// Arguments are looked for in every string of the provider, and named by the field.
    @Test func anUndeclaredArgumentIsNamedWithItsField() throws {
        let web = try JSONDecoder().decode(Metric.self, from: Data("""
            {"name": "health", "successCondition": "result == 'ok'", "provider": {"web": {"url": "http://{{args.host}}/health",
             "headers": [{"key": "Authorization", "value": "Bearer {{args.token}}"}]}}}
            """.utf8))
        let t = Self.template("t", args: [AnalysisArgument(name: "host")], [web])
        #expect(AnalysisLint.problems(t) == [
            "metric \"health\": provider.web.headers[0].value: uses {{args.token}}, but spec.args has no \"token\" (it declares host), so nothing can pass it "
                + "and every measurement would be an Error; add it to spec.args, or correct the name",
        ])
    }

    /// Blue-green waits on its pre- and post-promotion runs as a canary waits on a step's.
    @Test func anIntervalWithoutCountIsCaughtWhereverTheUpdateWaits() throws {
        let t = Self.template("watch", [Self.metric("rate", interval: "1m"), Self.metric("once", interval: "1m", count: 3)])
        let catalog = TemplateCatalog(namespaced: ["watch": t])
        let ref = RolloutAnalysis(templates: [AnalysisTemplateRef(templateName: "watch")])
        var r = Rollout(metadata: ObjectMeta(name: "web"), spec: RolloutSpec())
        r.spec.strategy = RolloutStrategy(blueGreen: BlueGreenStrategy(activeService: "web"))
        r.spec.strategy?.blueGreen?.prePromotionAnalysis = ref
        let tail = "interval 1m without count: the metric would measure until its run is terminated, and nothing terminates a step's run, "
            + "so the update would wait forever (until aborted); set count, or run the template as background analysis (spec.strategy.canary.analysis)"
        #expect(AnalysisLint.problems(r, templates: catalog) == [
            "spec.strategy.blueGreen.prePromotionAnalysis: AnalysisTemplate \"watch\": metric \"rate\": \(tail)",
        ])
        // In the background it is what one wants: measured until promotion.
        var c = Rollout(metadata: ObjectMeta(name: "web"), spec: RolloutSpec())
        c.spec.strategy = RolloutStrategy(canary: CanaryStrategy())
        c.spec.strategy?.canary?.analysis = ref
        #expect(AnalysisLint.problems(c, templates: catalog).isEmpty)
    }
}
