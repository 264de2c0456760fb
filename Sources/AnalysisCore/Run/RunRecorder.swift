import AviaryAPI
import KubeAPI

/// Folds measurements into a run's status and judges metrics and the run.
/// Pure: the runner takes measurements, this decides what they mean.
///
/// What it stores is bounded, so a run's status never grows past what the
/// API server accepts, whatever a provider answers or a template asks:
/// - a measurement's value and message: `ValueText.storedLimit` (4 KiB) each;
/// - measurements kept per metric: `measurementRetention` (default 10), at
///   most `maxRetention` (100);
/// - all measurements of a run together: about `measurementBudget` (512 KiB);
///   past it the oldest go first (never a metric's latest), then the kept
///   ones are cut to 256 bytes. Counts always include every measurement.
public enum RunRecorder {
    /// The ceiling on `measurementRetention`.
    public static let maxRetention = 100
    /// Bytes of measurements (values, messages and about 200 bytes of fields each) a run's status holds at most.
    public static let measurementBudget = 512 * 1024
    /// What a kept measurement is cut to when the budget is still exceeded.
    static let squeezedLimit = 256
    /// Per metric value in `status.summary`, and the whole summary.
    static let summaryValueLimit = 256
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
        var measurement = measurement
        measurement.value = measurement.value.map { ValueText.truncated($0) }
        measurement.message = measurement.message.map { ValueText.truncated($0) }
        var list = r.measurements ?? []
        if let last = list.last, last.phase == .Running, last.startedAt == measurement.startedAt {
            list[list.count - 1] = measurement
        } else {
            list.append(measurement)
        }
        r.measurements = Array(list.suffix(min(max(retention, 1), maxRetention)))
        if measurement.phase != .Running {
            r.count = plusOne(r.count)
            switch measurement.phase {
            case .Successful: r.successful = plusOne(r.successful)
            case .Failed: r.failed = plusOne(r.failed)
            case .Inconclusive: r.inconclusive = plusOne(r.inconclusive)
            case .Error: r.error = plusOne(r.error)
            case .Running, .Pending: break
            }
            r.consecutiveError = measurement.phase == .Error ? plusOne(r.consecutiveError) : 0
            if plan.consecutiveSuccessLimit > 0 || r.consecutiveSuccess != nil {
                r.consecutiveSuccess = measurement.phase == .Successful ? plusOne(r.consecutiveSuccess) : 0
            }
        }
        r.phase = judge(r, plan, measurementsDone: plan.count.map { (r.count ?? 0) >= $0 } ?? false)
        r.message = explain(r, plan: plan, latest: measurement).map { ValueText.truncated($0) }
        results[i] = r
        keepWithinBudget(&results)
        status.metricResults = results
    }

    /// A count plus one, saturating (a count in a status written by hand may be anything).
    static func plusOne(_ n: Int?) -> Int {
        let v = n ?? 0
        return v == Int.max ? v : max(0, v) + 1
    }

    /// Roughly what one measurement costs in the status.
    static func size(_ m: AnalysisMeasurement) -> Int {
        let metadata = m.metadata?.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 8 } ?? 0
        return 200 + (m.value?.utf8.count ?? 0) + (m.message?.utf8.count ?? 0) + metadata
    }

    /// Drops the oldest measurements (from the metric keeping the most, never
    /// a metric's latest) until the run is within `measurementBudget`; if the
    /// latest ones alone are over it, cuts their values and messages short.
    static func keepWithinBudget(_ results: inout [MetricResult]) {
        var total = results.reduce(0) { sum, r in sum + (r.measurements ?? []).reduce(0) { $0 + size($1) } }
        guard total > measurementBudget else { return }
        while total > measurementBudget {
            var fullest: Int?
            for (i, r) in results.enumerated() where (r.measurements?.count ?? 0) > 1 {
                if fullest.map({ (results[$0].measurements?.count ?? 0) < (r.measurements?.count ?? 0) }) ?? true { fullest = i }
            }
            guard let i = fullest, let oldest = results[i].measurements?.first else { break }
            results[i].measurements?.removeFirst()
            total -= size(oldest)
        }
        guard total > measurementBudget else { return }
        for i in results.indices {
            results[i].measurements = results[i].measurements?.map { m in
                var m = m
                m.value = m.value.map { ValueText.truncated($0, limit: squeezedLimit) }
                m.message = m.message.map { ValueText.truncated($0, limit: squeezedLimit) }
                return m
            }
            results[i].message = results[i].message.map { ValueText.truncated($0, limit: squeezedLimit) }
        }
    }

    /// Why a metric stands where it does, in the words of the issue's example:
    /// `0.82 did not satisfy result[0] >= 0.95 (3 failures > failureLimit 2)`.
    static func explain(_ r: MetricResult, plan: MetricPlan, latest: AnalysisMeasurement) -> String? {
        let lastOf: (AnalysisPhase) -> AnalysisMeasurement? = { phase in r.measurements?.last { $0.phase == phase } }
        switch r.phase {
        case .Failed where plan.consecutiveSuccessLimit > 0 && (plan.failureLimit < 0 || (r.failed ?? 0) <= plan.failureLimit):
            return ConsecutiveSuccess.shortfall(r, plan: plan)
        case .Failed:
            let m = lastOf(.Failed)
            return "\(m?.message ?? "failed") (\(r.failed ?? 0) failures > failureLimit \(plan.failureLimit))"
        case .Inconclusive where plan.consecutiveSuccessLimit > 0 && (r.inconclusive ?? 0) <= plan.inconclusiveLimit:
            return ConsecutiveSuccess.shortfall(r, plan: plan)
        case .Error:
            return "\(lastOf(.Error)?.message ?? "error") (\(r.consecutiveError ?? 0) consecutive errors > consecutiveErrorLimit \(plan.consecutiveErrorLimit))"
        case .Inconclusive:
            let m = lastOf(.Inconclusive)
            return "\(m?.message ?? "inconclusive") (\(r.inconclusive ?? 0) inconclusive > inconclusiveLimit \(plan.inconclusiveLimit))"
        default:
            return latest.phase == .Error ? latest.message : nil
        }
    }

    /// A metric's phase from its counts, by Argo's rules.
    static func judge(_ r: MetricResult, _ plan: MetricPlan, measurementsDone: Bool) -> AnalysisPhase {
        var counts = Judgement.Counts()
        counts.successful = r.successful ?? 0
        counts.failed = r.failed ?? 0
        counts.inconclusive = r.inconclusive ?? 0
        counts.error = r.error ?? 0
        counts.consecutiveErrors = r.consecutiveError ?? 0
        counts.consecutiveSuccesses = r.consecutiveSuccess ?? 0
        return Judgement.metric(counts, failureLimit: plan.failureLimit, inconclusiveLimit: plan.inconclusiveLimit,
                                consecutiveErrorLimit: plan.consecutiveErrorLimit, consecutiveSuccessLimit: plan.consecutiveSuccessLimit,
                                measurementsDone: measurementsDone)
    }

    /// Judges the run from its metrics: the worst real metric decides, and a
    /// Failed, Error or Inconclusive one ends the run at once. `terminate`
    /// ends it with what there is: unfinished metrics count as Successful.
    /// With a `verdict`, it alone decides (see `Verdict`): the run ends once
    /// it is decided, and metrics still measuring are stopped.
    public static func finish(_ status: inout AnalysisRunStatus, plans: [MetricPlan], terminate: Bool, now: KubeTime,
                              verdict: Verdict? = nil) {
        var results = status.metricResults ?? []
        // A metric counted out but not judged (its status was rewritten by
        // someone) is judged now, rather than leaving the run Running forever.
        for i in results.indices where !results[i].phase.isTerminal && results[i].measurements?.last?.phase != .Running {
            let r = results[i]
            guard let plan = plans.first(where: { $0.name == r.name }), let count = plan.count, (r.count ?? 0) >= count else { continue }
            results[i].phase = judge(r, plan, measurementsDone: true)
        }
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
        if let verdict {
            decide(verdict, &status, terminate: terminate, now: now)
            return
        }
        guard decidedBad || allDone || terminate else {
            status.phase = .Running
            return
        }
        status.phase = worst == .Running || worst == .Pending ? .Successful : worst
        if status.completedAt == nil { status.completedAt = now }
        if let bad = real.filter({ $0.phase == status.phase && $0.phase != .Successful }).first {
            status.message = ValueText.truncated("\(bad.name): \(bad.message ?? bad.phase.rawValue)")
        } else {
            status.message = terminate ? "run terminated" : nil
        }
    }

    /// Ends the run by its verdict once decided; metrics still measuring are
    /// stopped and count as Successful, as a terminated run's do.
    static func decide(_ verdict: Verdict, _ status: inout AnalysisRunStatus, terminate: Bool, now: KubeTime) {
        var results = status.metricResults ?? []
        guard let (phase, message) = verdict.decide(results) else {
            status.phase = .Running
            return
        }
        for i in results.indices where !results[i].phase.isTerminal {
            results[i].phase = .Successful
            results[i].message = terminate ? "run terminated" : "stopped: the verdict was decided without it"
        }
        status.metricResults = results
        status.phase = phase
        if status.completedAt == nil { status.completedAt = now }
        status.message = ValueText.truncated(message)
    }

    /// `success-rate=[0.97] latency=[0.21]`: each metric's latest value.
    static func summary(_ results: [MetricResult]) -> String {
        let parts = results.map { r -> String in
            let last = r.measurements?.last { $0.phase != .Running }
            let value = last.map { $0.value ?? $0.phase.rawValue } ?? "pending"
            return "\(r.name)=\(ValueText.truncated(value, limit: summaryValueLimit))"
        }
        return ValueText.truncated(parts.joined(separator: " "))
    }
}
