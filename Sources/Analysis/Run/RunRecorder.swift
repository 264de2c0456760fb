import AviaryAPI
import Kube

/// Folds measurements into a run's status and judges metrics and the run.
/// Pure: the runner takes measurements, this decides what they mean.
public enum RunRecorder {
    /// A new run's status: every metric Pending, the clock started.
    public static func start(_ spec: AnalysisSpec, now: KubeTime) -> AnalysisRunStatus {
        var status = AnalysisRunStatus()
        status.phase = .Running
        status.startedAt = now
        status.metricResults = spec.metrics.map { m in
            var r = MetricResult(name: m.name)
            if spec.isDryRun(m.name) { r.dryRun = true }
            return r
        }
        status.summary = "waiting for the first measurement"
        return status
    }

    /// Records one measurement (a new one, or an update of the running one) and
    /// judges the metric. Counts grow only when a measurement finishes.
    public static func record(_ measurement: AnalysisMeasurement, of plan: MetricPlan, in status: inout AnalysisRunStatus, retention: Int) {
        var results = status.metricResults ?? []
        let i = results.firstIndex { $0.name == plan.name } ?? {
            results.append(MetricResult(name: plan.name))
            return results.count - 1
        }()
        var r = results[i]
        var list = r.measurements ?? []
        if let last = list.last, last.phase == .Running, last.startedAt == measurement.startedAt {
            list[list.count - 1] = measurement
        } else {
            list.append(measurement)
        }
        r.measurements = Array(list.suffix(max(retention, 1)))
        if measurement.phase != .Running {
            r.count = (r.count ?? 0) + 1
            switch measurement.phase {
            case .Successful: r.successful = (r.successful ?? 0) + 1
            case .Failed: r.failed = (r.failed ?? 0) + 1
            case .Inconclusive: r.inconclusive = (r.inconclusive ?? 0) + 1
            case .Error: r.error = (r.error ?? 0) + 1
            case .Running, .Pending: break
            }
            r.consecutiveError = measurement.phase == .Error ? (r.consecutiveError ?? 0) + 1 : 0
        }
        var counts = Judgement.Counts()
        counts.successful = r.successful ?? 0
        counts.failed = r.failed ?? 0
        counts.inconclusive = r.inconclusive ?? 0
        counts.error = r.error ?? 0
        counts.consecutiveErrors = r.consecutiveError ?? 0
        let done = plan.count.map { (r.count ?? 0) >= $0 } ?? false
        r.phase = Judgement.metric(counts, failureLimit: plan.failureLimit, inconclusiveLimit: plan.inconclusiveLimit,
                                   consecutiveErrorLimit: plan.consecutiveErrorLimit, measurementsDone: done)
        r.message = explain(r, plan: plan, latest: measurement)
        results[i] = r
        status.metricResults = results
    }

    /// Why a metric stands where it does, in the words of the issue's example:
    /// `0.82 did not satisfy result[0] >= 0.95 (3 failures > failureLimit 2)`.
    static func explain(_ r: MetricResult, plan: MetricPlan, latest: AnalysisMeasurement) -> String? {
        let lastOf: (AnalysisPhase) -> AnalysisMeasurement? = { phase in r.measurements?.last { $0.phase == phase } }
        switch r.phase {
        case .Failed:
            let m = lastOf(.Failed)
            return "\(m?.message ?? "failed") (\(r.failed ?? 0) failures > failureLimit \(plan.failureLimit))"
        case .Error:
            return "\(lastOf(.Error)?.message ?? "error") (\(r.consecutiveError ?? 0) consecutive errors > consecutiveErrorLimit \(plan.consecutiveErrorLimit))"
        case .Inconclusive:
            let m = lastOf(.Inconclusive)
            return "\(m?.message ?? "inconclusive") (\(r.inconclusive ?? 0) inconclusive > inconclusiveLimit \(plan.inconclusiveLimit))"
        default:
            return latest.phase == .Error ? latest.message : nil
        }
    }

    /// Judges the run from its metrics: the worst real metric decides, and a
    /// Failed, Error or Inconclusive one ends the run at once. `terminate`
    /// ends it with what there is: unfinished metrics count as Successful.
    public static func finish(_ status: inout AnalysisRunStatus, plans: [MetricPlan], terminate: Bool, now: KubeTime) {
        var results = status.metricResults ?? []
        if terminate {
            for i in results.indices where !results[i].phase.isTerminal {
                results[i].phase = .Successful
                results[i].message = "run terminated"
            }
        }
        status.metricResults = results
        let real = results.filter { $0.dryRun != true }
        let worst = Judgement.run(results.map { ($0.phase, $0.dryRun == true) })
        let decidedBad = real.contains { [.Failed, .Error, .Inconclusive].contains($0.phase) }
        let allDone = results.allSatisfy { $0.phase.isTerminal }
        var run = RunSummary(), dry = RunSummary()
        for r in results {
            func add(_ s: inout RunSummary) {
                s.count += 1
                switch r.phase {
                case .Successful: s.successful += 1
                case .Failed: s.failed += 1
                case .Inconclusive: s.inconclusive += 1
                case .Error: s.error += 1
                default: break
                }
            }
            if r.dryRun == true { add(&dry) } else { add(&run) }
        }
        status.runSummary = run
        status.dryRunSummary = dry.count > 0 ? dry : nil
        status.summary = summary(results)
        guard decidedBad || allDone || terminate else {
            status.phase = .Running
            return
        }
        status.phase = worst == .Running || worst == .Pending ? .Successful : worst
        if status.completedAt == nil { status.completedAt = now }
        if let bad = real.filter({ $0.phase == status.phase && $0.phase != .Successful }).first {
            status.message = "\(bad.name): \(bad.message ?? bad.phase.rawValue)"
        } else {
            status.message = terminate ? "run terminated" : nil
        }
    }

    /// `success-rate=[0.97] latency=[0.21]`: each metric's latest value.
    static func summary(_ results: [MetricResult]) -> String {
        let parts = results.map { r -> String in
            let last = r.measurements?.last { $0.phase != .Running }
            let value = last.map { $0.value ?? $0.phase.rawValue } ?? "pending"
            return "\(r.name)=\(value)"
        }
        return parts.joined(separator: " ")
    }
}
