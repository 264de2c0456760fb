import AviaryAPI

/// `consecutiveSuccessLimit` (Argo 1.8): a metric that waits for a condition
/// to hold N times in a row. Its checks and its messages live here.
enum ConsecutiveSuccess {
    /// Why a metric whose count ran out before N successes in a row ended as it did.
    static func shortfall(_ r: MetricResult, plan: MetricPlan) -> String {
        let last = r.measurements?.last { $0.phase != .Successful && $0.phase != .Running }?.message
        let why = last.map { " (last unsuccessful: \($0))" } ?? ""
        let limit = plan.failureLimit >= 0 ? "; failureLimit \(plan.failureLimit) was not exceeded either" : ""
        return "\(r.count ?? 0) measurements without \(plan.consecutiveSuccessLimit) successful in a row "
            + "(consecutiveSuccessLimit)\(limit)\(why)"
    }
}

extension MetricPlan {
    /// Argo's rules: at least one of failureLimit and consecutiveSuccessLimit
    /// must apply, and a count must leave room for N successes in a row.
    func checkLimits() throws {
        if failureLimit < 0, consecutiveSuccessLimit == 0 {
            throw MetricSpecError(metric: name, "failureLimit is -1 (off) and consecutiveSuccessLimit is 0 (off), so nothing could decide "
                                  + "the metric; set failureLimit to 0 or more, or consecutiveSuccessLimit above 0")
        }
        if consecutiveSuccessLimit > 0, let count, consecutiveSuccessLimit > count {
            throw MetricSpecError(metric: name, "consecutiveSuccessLimit: \(consecutiveSuccessLimit) is more than count \(count), "
                                  + "so it could never be reached; raise count (or leave it out, with an interval) or lower the limit")
        }
    }
}
