import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Rollouts

/// AnalysisTemplates that include other templates (`spec.templates`).
@Suite struct TemplateIncludeTests {
    static func metric(_ name: String) -> Metric {
        Metric(name: name, successCondition: "result[0] >= 1", provider: MetricProvider(prometheus: PrometheusMetric(address: "http://p", query: "{{args.q}}")))
    }

    static func template(_ name: String, metrics: [String], includes: [AnalysisTemplateRef] = [], args: [AnalysisArgument]? = nil) -> AnalysisTemplate {
        var spec = AnalysisSpec(args: args, metrics: metrics.map(metric))
        spec.templates = includes.isEmpty ? nil : includes
        return AnalysisTemplate(metadata: ObjectMeta(name: name, namespace: "default"), spec: spec)
    }

    func build(_ refs: [AnalysisTemplateRef], _ catalog: TemplateCatalog) throws -> AnalysisSpec {
        let rollout = World(steps: []).rollout
        return try AnalysisRunBuilder.spec(RolloutAnalysis(templates: refs, args: [AnalysisArgument(name: "q", value: "up")]),
                                           rollout: rollout, catalog: catalog, hashes: .init(stable: "a", latest: "b"))
    }

    func problems(_ refs: [AnalysisTemplateRef], _ catalog: TemplateCatalog) -> String? {
        do { _ = try build(refs, catalog); return nil } catch { return "\(error)" }
    }

    @Test func includedMetricsArgsDryRunAndRetentionAreMerged() throws {
        var errors = Self.template("errors", metrics: ["error-rate"], args: [AnalysisArgument(name: "q")])
        errors.spec.dryRun = [MetricSelector(metricName: "error-rate")]
        errors.spec.measurementRetention = [MeasurementRetention(metricName: "error-rate", limit: 20)]
        let latency = Self.template("latency", metrics: ["p99"], args: [AnalysisArgument(name: "q")])
        let all = Self.template("all", metrics: ["availability"],
                                includes: [AnalysisTemplateRef(templateName: "errors"), AnalysisTemplateRef(templateName: "latency", clusterScope: true)],
                                args: [AnalysisArgument(name: "q")])
        let catalog = TemplateCatalog(namespaced: ["errors": errors, "all": all], cluster: ["latency": latency])
        let spec = try build([AnalysisTemplateRef(templateName: "all")], catalog)
        #expect(spec.metrics.map(\.name) == ["availability", "error-rate", "p99"])
        #expect(spec.args == [AnalysisArgument(name: "q", value: "up")])
        #expect(spec.isDryRun("error-rate") && !spec.isDryRun("p99"))
        #expect(spec.retention("error-rate") == 20)
        #expect(spec.templates == nil, "a run lists its metrics; the includes are resolved")
    }

    @Test func aDiamondCountsOnce() throws {
        let base = Self.template("base", metrics: ["up"])
        let a = Self.template("a", metrics: ["a"], includes: [AnalysisTemplateRef(templateName: "base")])
        let b = Self.template("b", metrics: ["b"], includes: [AnalysisTemplateRef(templateName: "base")])
        let top = Self.template("top", metrics: [], includes: [AnalysisTemplateRef(templateName: "a"), AnalysisTemplateRef(templateName: "b")])
        let spec = try build([AnalysisTemplateRef(templateName: "top")], TemplateCatalog(namespaced: ["base": base, "a": a, "b": b, "top": top]))
        #expect(spec.metrics.map(\.name) == ["a", "up", "b"])
    }

    @Test func aCycleIsAnErrorNamingTheChain() {
        let a = Self.template("a", metrics: ["a"], includes: [AnalysisTemplateRef(templateName: "b")])
        let b = Self.template("b", metrics: ["b"], includes: [AnalysisTemplateRef(templateName: "a")])
        #expect(problems([AnalysisTemplateRef(templateName: "a")], TemplateCatalog(namespaced: ["a": a, "b": b]))
            == "AnalysisTemplate \"a\" includes itself: AnalysisTemplate \"a\" → AnalysisTemplate \"b\" → AnalysisTemplate \"a\"")
        let selfish = Self.template("s", metrics: ["s"], includes: [AnalysisTemplateRef(templateName: "s")])
        #expect(problems([AnalysisTemplateRef(templateName: "s")], TemplateCatalog(namespaced: ["s": selfish]))
            == "AnalysisTemplate \"s\" includes itself: AnalysisTemplate \"s\" → AnalysisTemplate \"s\"")
    }

    @Test func aDuplicateMetricAndAMissingIncludeAreNamed() {
        let a = Self.template("a", metrics: ["rate"], includes: [AnalysisTemplateRef(templateName: "b"), AnalysisTemplateRef(templateName: "gone", clusterScope: true)])
        let b = Self.template("b", metrics: ["rate"])
        #expect(problems([AnalysisTemplateRef(templateName: "a")], TemplateCatalog(namespaced: ["a": a, "b": b]))
            == "AnalysisTemplate \"a\": templates: ClusterAnalysisTemplate \"gone\" not found; "
            + "AnalysisTemplate \"b\": metric \"rate\" is also defined by another template")
    }

    @Test func aChainTooDeepStops() {
        var catalog = TemplateCatalog()
        for i in 0..<50 {
            catalog.namespaced["t\(i)"] = Self.template("t\(i)", metrics: ["m\(i)"], includes: [AnalysisTemplateRef(templateName: "t\(i + 1)")])
        }
        let message = problems([AnalysisTemplateRef(templateName: "t0")], catalog)
        #expect(message?.hasSuffix("AnalysisTemplate \"t10\": templates nest more than 10 deep") == true)
    }

    @Test func aTemplateThatOnlyIncludesMayLeaveOutMetrics() throws {
        let yaml = #"{"apiVersion":"aviary.dev/v1alpha1","kind":"AnalysisTemplate","metadata":{"name":"all"},"spec":{"templates":[{"templateName":"errors"},{"templateName":"latency","clusterScope":true}]}}"#
        let t = try JSONDecoder().decode(AnalysisTemplate.self, from: Data(yaml.utf8))
        #expect(t.spec.metrics.isEmpty)
        #expect(t.spec.templates == [AnalysisTemplateRef(templateName: "errors"), AnalysisTemplateRef(templateName: "latency", clusterScope: true)])
        let withMetrics = #"{"metadata":{"name":"m"},"spec":{"metrics":[{"name":"x","provider":{"web":{"url":"http://x"}}}]}}"#
        #expect(try JSONDecoder().decode(AnalysisTemplate.self, from: Data(withMetrics.utf8)).spec.metrics.count == 1)
        let bad = #"{"metadata":{"name":"m"},"spec":{"templates":"nope"}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(AnalysisTemplate.self, from: Data(bad.utf8)) }
    }
}

extension TemplateIncludeTests {
    @Test func aWideTreeStopsAtTheTemplateLimitAndSaysSoOnce() {
        var catalog = TemplateCatalog()
        let leaves = (0..<150).map { AnalysisTemplateRef(templateName: "leaf\($0)") }
        for (i, ref) in leaves.enumerated() { catalog.namespaced[ref.templateName] = Self.template(ref.templateName, metrics: ["m\(i)"]) }
        catalog.namespaced["root"] = Self.template("root", metrics: [], includes: leaves)
        #expect(problems([AnalysisTemplateRef(templateName: "root")], catalog) == "more than 100 templates in one analysis, counting includes")
    }
}
