import AviaryAPI
import Kube
import Testing
@testable import Analysis
@testable import AnalysisCore

/// Every number of a metric is checked when the run (or the Rollout that
/// references its template) is read: an Error naming the metric and the field,
/// never an overflow later in the schedule or the judgement.
@Suite struct MetricPlanLimitTests {
    func problem(_ configure: (inout Metric) -> Void) -> String? {
        var m = Metric(name: "m", provider: MetricProvider(web: WebMetric(url: "http://127.0.0.1/")))
        configure(&m)
        do {
            _ = try MetricPlan(m)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func extremeNumbersNameTheField() {
        let year = "is longer than the largest duration aviary accepts (31536000s, one year)"
        #expect(problem { $0.interval = "inf" } == "metric \"m\": interval: \"inf\" \(year)")
        #expect(problem { $0.interval = "1e19" } == "metric \"m\": interval: \"1e19\" \(year)")
        #expect(problem { $0.initialDelay = "9223372036854775807" } == "metric \"m\": initialDelay: \"9223372036854775807\" \(year)")
        #expect(problem { $0.interval = "-1s" } == "metric \"m\": interval: \"-1s\" is not a duration like 30s, 5m, 1h or a number of seconds")
        #expect(problem { $0.count = "9223372036854775808" } == "metric \"m\": count: \"9223372036854775808\" is not a number")
        #expect(problem { $0.count = .int(-1) } == "metric \"m\": count: -1 is outside 0–1000000")
        #expect(problem { $0.failureLimit = .int(Int.max) } == "metric \"m\": failureLimit: 9223372036854775807 is outside -1–1000000")
        #expect(problem { $0.consecutiveErrorLimit = .int(-5) } == "metric \"m\": consecutiveErrorLimit: -5 is outside -1–1000000")
        #expect(problem { $0.inconclusiveLimit = "2000000" } == "metric \"m\": inconclusiveLimit: 2000000 is outside -1–1000000")
        #expect(problem { $0.interval = "1h"; $0.count = .int(1_000_000); $0.failureLimit = -1; $0.consecutiveSuccessLimit = 1_000_000 } == nil)
    }

    /// A schedule at the extremes that are accepted still adds up without overflow.
    @Test func theLargestAcceptedScheduleDoesNotOverflow() throws {
        var m = Metric(name: "m", interval: "8760h", count: .int(1_000_000), provider: MetricProvider(web: WebMetric(url: "http://x/")))
        m.initialDelay = "8760h"
        let plan = try MetricPlan(m)
        var status = AnalysisRunStatus()
        status.startedAt = KubeTime(secondsSinceEpoch: 253_402_300_799)
        var result = MetricResult(name: "m", phase: .Running)
        result.count = Int(Int32.max) - 1
        result.measurements = [AnalysisMeasurement(phase: .Successful, startedAt: KubeTime(secondsSinceEpoch: 253_402_300_799))]
        status.metricResults = [result]
        let (_, next) = RunSchedule.due([plan], status: status, now: KubeTime(secondsSinceEpoch: 253_402_300_799))
        #expect(next == nil || next! > 0)
    }
}
