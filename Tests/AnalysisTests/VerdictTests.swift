import AviaryAPI
import Kube
import Testing
@testable import AnalysisCore

@Suite struct VerdictTests {
    let metrics = ["success-rate", "latency", "latency-relaxed"]

    func verdict(_ text: String) throws -> Verdict { try Verdict(text, metrics: metrics) }

    func error(_ text: String, dryRun: Set<String> = []) -> VerdictError? {
        do { _ = try Verdict(text, metrics: metrics, dryRun: dryRun); return nil } catch { return error }
    }

    func results(_ phases: [String: AnalysisPhase]) -> [MetricResult] {
        metrics.map { name in
            var r = MetricResult(name: name, phase: phases[name] ?? .Running)
            if r.phase == .Failed { r.message = "[0.7] did not satisfy result[0] >= 0.95 (1 failures > failureLimit 0)" }
            return r
        }
    }

    @Test func namesWithDashesAndPrecedence() throws {
        let v = try verdict("success-rate && (latency || latency-relaxed)")
        #expect(v.metrics == metrics)
        #expect(v.root == .all([.metric("success-rate"), .any([.metric("latency"), .metric("latency-relaxed")])]))
        // && binds tighter than ||, ! tighter than both; chains stay flat.
        #expect(try verdict("latency || success-rate && !latency-relaxed").root
            == .any([.metric("latency"), .all([.metric("success-rate"), .not(.metric("latency-relaxed"))])]))
        #expect(try verdict("latency&&latency-relaxed&&success-rate").root
            == .all([.metric("latency"), .metric("latency-relaxed"), .metric("success-rate")]))
    }

    @Test func mistakesAreNamedWithTheirColumn() {
        #expect(error("success-rate && latency-relaxd")?.description
            == "verdict: column 17: unknown metric \"latency-relaxd\"; the metrics are success-rate, latency, latency-relaxed")
        #expect(error("a || b")?.description.contains("unknown metrics \"a\" (column 1), \"b\" (column 6)") == true)
        #expect(error("latency & success-rate")?.description == "verdict: column 9: a single \"&\": write && (both) or || (either)")
        #expect(error("(latency || success-rate")?.description == "verdict: column 25: \"(\" at column 1 is not closed")
        #expect(error("latency)")?.description == "verdict: column 8: \")\" without a matching \"(\"")
        #expect(error("latency &&")?.description == "verdict: column 11: unexpected end of the verdict: a metric name is missing")
        #expect(error("latency success-rate")?.description == "verdict: column 9: expected && or || before \"success-rate\"")
        #expect(error("|| latency")?.description == "verdict: column 1: expected a metric name, found ||")
        #expect(error("  ")?.message.hasPrefix("the verdict is empty") == true)
        #expect(error("latency || success-rate", dryRun: ["latency"])?.description
            == "verdict: column 1: metric \"latency\" is a dry run, so it cannot decide; drop it from dryRun or from the verdict")
    }

    @Test func hostileVerdictsAreRefusedNotRecursedInto() {
        #expect(error(String(repeating: "(", count: 4000) + "latency" + String(repeating: ")", count: 4000))?.message.contains("characters long") == true)
        #expect(error(String(repeating: "(", count: 2000) + "latency" + String(repeating: ")", count: 2000))?.message.contains("nested too deeply") == true)
        #expect(error(String(repeating: "!", count: 3000) + "latency")?.message.contains("nested too deeply") == true)
        let many = (0..<50).map { "m\($0)" }.joined(separator: " || ")
        #expect(error(many)?.message.hasSuffix("\"m9\" (column 55) and 40 more; the metrics are success-rate, latency, latency-relaxed") == true)
        // A long flat chain is fine: it is one level.
        let chain = Array(repeating: "latency", count: 300).joined(separator: " && ")
        #expect(error(chain) == nil)
    }

    @Test func emptyVerdictIsNone() throws {
        var spec = AnalysisSpec(metrics: [])
        #expect(try Verdict.of(spec) == nil)
        spec.verdict = ""
        #expect(try Verdict.of(spec) == nil)
    }

    @Test func threeValuedLogic() throws {
        let v = try verdict("success-rate && (latency || latency-relaxed)")
        func truth(_ p: [String: AnalysisPhase]) -> Verdict.Truth { v.evaluate { p[$0] }.truth }
        #expect(truth(["success-rate": .Successful, "latency": .Failed, "latency-relaxed": .Successful]) == .yes)
        #expect(truth(["success-rate": .Successful, "latency": .Successful]) == .yes, "one alternative is enough; the other may still run")
        #expect(truth(["success-rate": .Failed]) == .no, "false as soon as one side of && is")
        #expect(truth(["success-rate": .Error, "latency": .Successful]) == .no)
        #expect(truth(["success-rate": .Successful, "latency": .Failed]) == .unknown)
        #expect(truth(["success-rate": .Successful, "latency": .Failed, "latency-relaxed": .Inconclusive]) == .unknown)
        #expect(try verdict("!latency").evaluate { _ in .Failed }.truth == .yes)
        #expect(try verdict("!latency").evaluate { _ in .Inconclusive }.truth == .unknown)
    }

    @Test func decidedEarlyEitherWayAndSaysWhichMetricsDecided() throws {
        let v = try verdict("success-rate && (latency || latency-relaxed)")
        let passed = v.decide(results(["success-rate": .Successful, "latency": .Failed, "latency-relaxed": .Successful]))
        #expect(passed?.phase == .Successful)
        #expect(passed?.message == "verdict \"success-rate && (latency || latency-relaxed)\" is true, decided by success-rate Successful; "
            + "latency-relaxed Successful; not deciding: latency Failed: [0.7] did not satisfy result[0] >= 0.95 (1 failures > failureLimit 0)")
        let failed = v.decide(results(["success-rate": .Failed]))
        #expect(failed?.phase == .Failed)
        #expect(failed?.message == "verdict \"success-rate && (latency || latency-relaxed)\" is false, decided by "
            + "success-rate Failed: [0.7] did not satisfy result[0] >= 0.95 (1 failures > failureLimit 0)")
        #expect(v.decide(results(["success-rate": .Error]))?.phase == .Error, "only errors decided: Error, as Argo's rule would say")
        #expect(v.decide(results(["success-rate": .Error, "latency": .Failed, "latency-relaxed": .Failed]))?.phase == .Failed)
        #expect(v.decide(results(["success-rate": .Successful, "latency": .Failed])) == nil, "waits on latency-relaxed")
        let undecided = v.decide(results(["success-rate": .Successful, "latency": .Failed, "latency-relaxed": .Inconclusive]))
        #expect(undecided?.phase == .Inconclusive)
        #expect(undecided?.message == "verdict \"success-rate && (latency || latency-relaxed)\" is undecided: latency-relaxed Inconclusive")
    }

    @Test func runEndsOnItsVerdictAndStopsTheRest() throws {
        let plans = try metrics.map { try MetricPlan(Metric(name: $0, provider: MetricProvider(web: WebMetric(url: "http://x")))) }
        let v = try verdict("latency || latency-relaxed")
        var status = AnalysisRunStatus()
        status.metricResults = results(["success-rate": .Running, "latency": .Failed, "latency-relaxed": .Running])
        RunRecorder.finish(&status, plans: plans, terminate: false, now: KubeTime(secondsSinceEpoch: 5), verdict: v)
        #expect(status.phase == .Running, "without a verdict, the Failed metric would have ended the run")
        #expect(status.completedAt == nil)
        status.metricResults?[2].phase = .Successful
        RunRecorder.finish(&status, plans: plans, terminate: false, now: KubeTime(secondsSinceEpoch: 6), verdict: v)
        #expect(status.phase == .Successful)
        #expect(status.completedAt == KubeTime(secondsSinceEpoch: 6))
        #expect(status.message?.hasPrefix("verdict \"latency || latency-relaxed\" is true, decided by latency-relaxed Successful") == true)
        #expect(status.metricResults?[0].phase == .Successful, "success-rate is not named: stopped")
        #expect(status.metricResults?[0].message == "stopped: the verdict was decided without it")
    }

    @Test func terminatingARunWithAVerdictCountsUnfinishedMetricsAsPassed() throws {
        let plans = try metrics.map { try MetricPlan(Metric(name: $0, interval: "1m", provider: MetricProvider(web: WebMetric(url: "http://x")))) }
        var status = AnalysisRunStatus()
        status.metricResults = results([:])
        RunRecorder.finish(&status, plans: plans, terminate: true, now: KubeTime(secondsSinceEpoch: 5), verdict: try verdict("success-rate && latency"))
        #expect(status.phase == .Successful)
    }

    @Test func templatesCombine() {
        #expect(Verdict.combined([(nil, ["a"]), (nil, ["b"])]) == nil, "no verdict anywhere: Argo's rule")
        #expect(Verdict.combined([("a || b", ["a", "b", "c"])]) == "a || b")
        #expect(Verdict.combined([("a || b", ["a", "b"]), (nil, ["c", "d"])]) == "(a || b) && c && d")
        // An including template's verdict names its includes' metrics: they are not required again.
        #expect(Verdict.combined([("a || b", []), (nil, ["a", "b"])]) == "a || b")
        #expect(Verdict.combined([("a || b", ["a", "b"]), ("c", ["c"])]) == "(a || b) && (c)")
        #expect(Verdict.canName("success-rate") && !Verdict.canName("a b") && !Verdict.canName("a|b") && !Verdict.canName(""))
    }
}
