import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Rollouts

/// A template's `verdict` carried into the run a Rollout starts, checked before any run exists.
@Suite struct VerdictBuildTests {
    typealias T = TemplateIncludeTests

    func template(_ name: String, metrics: [String], verdict: String?, includes: [AnalysisTemplateRef] = []) -> AnalysisTemplate {
        var t = T.template(name, metrics: metrics, includes: includes, args: [AnalysisArgument(name: "q")])
        t.spec.verdict = verdict
        return t
    }

    @Test func oneTemplatesVerdictIsTheRuns() throws {
        let t = template("slo", metrics: ["success-rate", "latency", "latency-relaxed"], verdict: "success-rate && (latency || latency-relaxed)")
        let spec = try T().build([AnalysisTemplateRef(templateName: "slo")], TemplateCatalog(namespaced: ["slo": t]))
        #expect(spec.verdict == "success-rate && (latency || latency-relaxed)")
        let plain = T.template("plain", metrics: ["a"], args: [AnalysisArgument(name: "q")])
        #expect(try T().build([AnalysisTemplateRef(templateName: "plain")], TemplateCatalog(namespaced: ["plain": plain])).verdict == nil)
    }

    @Test func anUnknownNameIsAProblemNamingTheTemplateAndColumn() {
        let t = template("slo", metrics: ["success-rate", "latency"], verdict: "success-rate && latncy")
        let problem = T().problems([AnalysisTemplateRef(templateName: "slo")], TemplateCatalog(namespaced: ["slo": t]))
        #expect(problem?.contains("AnalysisTemplate \"slo\": verdict: column 17: unknown metric \"latncy\"; the metrics are success-rate, latency") == true,
                "\(problem ?? "no problem")")
    }

    @Test func templatesCombineAndIncludesMayBeNamed() throws {
        let slo = template("slo", metrics: ["latency", "latency-relaxed"], verdict: "latency || latency-relaxed")
        let errors = T.template("errors", metrics: ["error-rate"], args: [AnalysisArgument(name: "q")])
        let both = try T().build([AnalysisTemplateRef(templateName: "slo"), AnalysisTemplateRef(templateName: "errors")],
                                 TemplateCatalog(namespaced: ["slo": slo, "errors": errors]))
        #expect(both.verdict == "(latency || latency-relaxed) && error-rate")
        // An including template's verdict names its includes' metrics.
        let all = template("all", metrics: [], verdict: "error-rate || latency", includes: [AnalysisTemplateRef(templateName: "errors"),
                                                                                              AnalysisTemplateRef(templateName: "lat")])
        let lat = T.template("lat", metrics: ["latency"], args: [AnalysisArgument(name: "q")])
        let included = try T().build([AnalysisTemplateRef(templateName: "all")], TemplateCatalog(namespaced: ["all": all, "errors": errors, "lat": lat]))
        #expect(included.verdict == "error-rate || latency")
    }

    @Test func aDryRunMetricCannotDecide() {
        var t = template("slo", metrics: ["latency", "latency-relaxed"], verdict: "latency || latency-relaxed")
        t.spec.dryRun = [MetricSelector(metricName: "latency")]
        let problem = T().problems([AnalysisTemplateRef(templateName: "slo")], TemplateCatalog(namespaced: ["slo": t]))
        #expect(problem?.contains("metric \"latency\" is a dry run, so it cannot decide") == true, "\(problem ?? "no problem")")
    }
}
