import AviaryAPI
import KubeAPI

/// When each metric of a run is due, from the run's start: the n-th
/// measurement is due at start + initialDelay + n × interval, so a slow
/// measurement or a late reconcile never pushes the later ones back. A
/// runner that fell behind takes one measurement and goes on at the next
/// point of the grid, without a burst to catch up.
public enum RunSchedule {
    public enum Work: Equatable, Sendable {
        /// Take a new measurement.
        case measure(String)
        /// A measurement is still running (a Job): look at it again.
        case resume(String, AnalysisMeasurement)
    }

    /// What is due now, and when to look again.
    public static func due(_ plans: [MetricPlan], status: AnalysisRunStatus, now: KubeTime) -> (work: [Work], next: Int64?) {
        guard let started = status.startedAt else { return ([], nil) }
        var work: [Work] = []
        var next: Int64?
        func wake(_ t: Int64) { next = next.map { min($0, t) } ?? t }
        for plan in plans {
            let result = status.result(plan.name)
            if let result, result.phase.isTerminal { continue }
            if let last = result?.measurements?.last, last.phase == .Running {
                work.append(.resume(plan.name, last))
                continue
            }
            let taken = result?.count ?? 0
            if let count = plan.count, taken >= count { continue }
            let at = dueTime(plan, started: started.secondsSinceEpoch, taken: taken,
                             lastStart: result?.measurements?.last?.startedAt?.secondsSinceEpoch)
            if at <= now.secondsSinceEpoch {
                work.append(.measure(plan.name))
                if let interval = plan.interval { wake(nextGridPoint(after: now.secondsSinceEpoch, plan, started: started.secondsSinceEpoch, interval)) }
            } else {
                wake(at)
            }
        }
        return (work, next)
    }

    static func dueTime(_ plan: MetricPlan, started: Int64, taken: Int, lastStart: Int64?) -> Int64 {
        let anchor = started + plan.initialDelay
        guard taken > 0, let lastStart else { return anchor }
        guard let interval = plan.interval else { return lastStart }
        return nextGridPoint(after: lastStart, plan, started: started, interval)
    }

    /// The first point of the grid anchor + k × interval strictly after `t`.
    static func nextGridPoint(after t: Int64, _ plan: MetricPlan, started: Int64, _ interval: Int64) -> Int64 {
        let anchor = started + plan.initialDelay
        guard t >= anchor else { return anchor }
        return anchor + ((t - anchor) / interval + 1) * interval
    }
}
