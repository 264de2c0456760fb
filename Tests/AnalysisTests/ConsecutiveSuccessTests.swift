import AviaryAPI
import KubeAPI
import Testing
@testable import AnalysisCore

/// `consecutiveSuccessLimit` (Argo 1.8): a metric that waits for N successes in a row.
@Suite struct ConsecutiveSuccessTests {
    func metric(count: Int? = 5, failureLimit: IntOrString? = nil, limit: IntOrString?, interval: String? = "10s") -> Metric {
        var m = Metric(name: "ready", interval: interval, count: count.map(IntOrString.int), successCondition: "result == 1",
                       failureLimit: failureLimit, provider: MetricProvider(web: WebMetric(url: "http://x")))
        m.consecutiveSuccessLimit = limit
        return m
    }

    /// Records the phases in order and returns the metric's result after each.
    func record(_ phases: [AnalysisPhase], _ m: Metric) throws -> [MetricResult] {
        let plan = try MetricPlan(m)
        var status = RunRecorder.start(AnalysisSpec(metrics: [m]), now: KubeTime(secondsSinceEpoch: 0))
        var out: [MetricResult] = []
        for (i, p) in phases.enumerated() {
            let t = KubeTime(secondsSinceEpoch: Int64(i) * 10)
            RunRecorder.record(AnalysisMeasurement(phase: p, message: p == .Failed ? "0 did not satisfy result == 1" : nil, startedAt: t, finishedAt: t),
                               of: plan, in: &status, retention: 10)
            if let r = status.result("ready") { out.append(r) }
        }
        return out
    }

    @Test func successfulAsSoonAsNInARowBeforeTheCountRunsOut() throws {
        let results = try record([.Failed, .Successful, .Successful], metric(failureLimit: -1, limit: 2))
        #expect(results.map(\.phase) == [.Running, .Running, .Successful])
        #expect(results.last?.consecutiveSuccess == 2)
    }

    @Test func aFailureInBetweenStartsTheStreakAgain() throws {
        let results = try record([.Successful, .Failed, .Successful, .Successful], metric(count: nil, failureLimit: -1, limit: 2))
        #expect(results.map(\.consecutiveSuccess) == [1, 0, 1, 2])
        #expect(results.map(\.phase) == [.Running, .Running, .Running, .Successful])
    }

    @Test func onlyTheSuccessLimitAndTheCountRunsOutIsFailedWithAMessageThatSaysWhy() throws {
        let results = try record([.Successful, .Failed, .Successful], metric(count: 3, failureLimit: -1, limit: 2))
        #expect(results.last?.phase == .Failed)
        #expect(results.last?.message == "3 measurements without 2 successful in a row (consecutiveSuccessLimit) "
                + "(last unsuccessful: 0 did not satisfy result == 1)")
    }

    @Test func bothLimitsAndNeitherReachedIsInconclusive() throws {
        let results = try record([.Successful, .Failed, .Successful], metric(count: 3, failureLimit: 2, limit: 2))
        #expect(results.last?.phase == .Inconclusive)
        #expect(results.last?.message?.contains("failureLimit 2 was not exceeded either") == true)
    }

    @Test func bothLimitsAndTheFailureLimitFirstIsFailed() throws {
        let results = try record([.Failed, .Failed], metric(count: 5, failureLimit: 1, limit: 2))
        #expect(results.last?.phase == .Failed)
        #expect(results.last?.message == "0 did not satisfy result == 1 (2 failures > failureLimit 1)")
    }

    @Test func withoutTheLimitNothingChanges() throws {
        let results = try record([.Successful, .Successful], metric(count: 2, limit: nil))
        #expect(results.map(\.phase) == [.Running, .Successful])
        #expect(results.last?.consecutiveSuccess == nil, "the counter is written only when the limit is used")
    }

    @Test func judgementAlone() {
        var c = Judgement.Counts()
        c.consecutiveSuccesses = 3
        #expect(Judgement.metric(c, failureLimit: -1, consecutiveSuccessLimit: 3, measurementsDone: false) == .Successful)
        c.consecutiveSuccesses = 2
        #expect(Judgement.metric(c, failureLimit: -1, consecutiveSuccessLimit: 3, measurementsDone: false) == .Running)
        #expect(Judgement.metric(c, failureLimit: -1, consecutiveSuccessLimit: 3, measurementsDone: true) == .Failed)
        #expect(Judgement.metric(c, failureLimit: 0, consecutiveSuccessLimit: 3, measurementsDone: true) == .Inconclusive)
        c.consecutiveErrors = 5
        #expect(Judgement.metric(c, failureLimit: -1, consecutiveSuccessLimit: 3, measurementsDone: false) == .Error, "errors still end it")
    }

    @Test func badLimitsAreNamed() {
        func problem(_ m: Metric) -> String? {
            do { _ = try MetricPlan(m); return nil } catch { return "\(error)" }
        }
        #expect(problem(metric(failureLimit: -1, limit: nil))
            == "metric \"ready\": failureLimit is -1 (off) and consecutiveSuccessLimit is 0 (off), so nothing could decide the metric; "
            + "set failureLimit to 0 or more, or consecutiveSuccessLimit above 0")
        #expect(problem(metric(count: 3, limit: 4))
            == "metric \"ready\": consecutiveSuccessLimit: 4 is more than count 3, so it could never be reached; "
            + "raise count (or leave it out, with an interval) or lower the limit")
        #expect(problem(metric(count: nil, limit: 2, interval: nil))?.contains("more than count 1") == true, "no count and no interval is one measurement")
        #expect(problem(metric(limit: -1)) == "metric \"ready\": consecutiveSuccessLimit: -1 is outside 0–1000000")
        #expect(problem(metric(limit: "x")) == "metric \"ready\": consecutiveSuccessLimit: \"x\" is not a number")
        #expect(problem(metric(count: nil, failureLimit: -1, limit: "1000000")) == nil)
    }
}
