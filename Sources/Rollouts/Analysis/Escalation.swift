import AnalysisCore
import AviaryAPI
import KubeAPI

/// What a failed run does to the update, decided by its failed metrics'
/// `onFailure` (see `OnFailure`): the most severe one wins, so one metric
/// that says "abort" is never softened by another that says "notify".
/// A run that failed with no failed metric (an Error, a verdict) aborts.
enum Escalation: Equatable {
    /// Back to stable; `explicit` when a metric says `onFailure: abort`, which
    /// stays immediate even under a gradual abortStrategy (without it, the
    /// Rollout's abortStrategy applies, as in Argo).
    case abort(explicit: Bool)
    case gradualAbort
    /// Hold for `seconds`, notify `trigger`, then abort unless promoted or acknowledged.
    case notify(trigger: String, seconds: Int, metric: String)

    /// A grace period as a person writes it: 10m, 1h30m, 45s.
    static func text(_ seconds: Int) -> String {
        let h = seconds / 3600, m = seconds % 3600 / 60, s = seconds % 60
        let parts = [h > 0 ? "\(h)h" : "", m > 0 ? "\(m)m" : "", s > 0 || seconds == 0 ? "\(s)s" : ""]
        return parts.joined()
    }

    /// The phase message for a pause: an escalation says what happens next and what a person can do.
    static func phaseMessage(_ reason: PauseCondition.Reason) -> String {
        guard reason == .AnalysisEscalation else { return reason.rawValue }
        return "AnalysisEscalation: a failed metric holds the update; it aborts when the grace period ends, "
            + "unless promoted (kubectl aviary promote) or acknowledged (kubectl aviary ack)"
    }

    /// Whether the update holds instead of aborting.
    var holds: Bool { if case .notify = self { true } else { false } }

    static func of(_ run: AnalysisRun) -> Escalation {
        let specs = Dictionary(run.spec.metrics.map { ($0.name, $0.onFailure) }, uniquingKeysWith: { a, _ in a })
        let failed = (run.status?.metricResults ?? []).filter { $0.phase == .Failed || $0.phase == .Error }
        guard !failed.isEmpty else { return .abort(explicit: false) }
        var worst: (OnFailure?, String)?
        for result in failed {
            let action = specs[result.name] ?? nil
            guard let current = worst else { worst = (action, result.name); continue }
            if (action ?? .abort).severity > (current.0 ?? .abort).severity || (action == .abort && current.0 == nil) {
                worst = (action, result.name)
            }
        }
        switch worst {
        case (.gradualAbort?, _)?: return .gradualAbort
        case (.notify(let trigger, let after)?, let metric)?:
            // Checked when the run was planned (MetricPlan); an unreadable one here aborts.
            guard let seconds = try? DurationText.wholeSeconds(after) else { return .abort(explicit: false) }
            return .notify(trigger: trigger, seconds: seconds, metric: metric)
        case (.abort?, _)?: return .abort(explicit: true)
        default: return .abort(explicit: false)
        }
    }
}

extension AnalysisPhase {
    var isFailure: Bool { self == .Failed || self == .Error }
}

extension Reconcile {
    /// What the failed run that aborted the update asks of the rollback: its
    /// deciding metric's `onFailure` (nil when no failed run is recorded).
    var abortedBy: Escalation? {
        let failed = [status.canary?.currentStepAnalysisRunStatus, status.canary?.currentBackgroundAnalysisRunStatus]
            .compactMap { $0 }.filter { $0.status.isFailure }.map(\.name)
        guard !failed.isEmpty else { return nil }
        return view.analysisRuns.first { failed.contains($0.metadata.name ?? "") }.map(Escalation.of)
    }
}

extension Reconcile {
    /// The reason of the pause in force, if any.
    var heldBy: PauseCondition.Reason? {
        if case .paused(let pause) = update.phase { return pause.reason }
        return nil
    }
}
