import AnalysisCore
import AviaryAPI
import KubeAPI

/// How any strategy waits on an AnalysisRun: find or start the run, copy its
/// verdict into the status, and turn it into a gate. The runs are owned by
/// the Rollout, named `<rollout>-<hash>-<step>`; a Failed or Error run aborts
/// the update, an Inconclusive one pauses it until a promote.
extension Reconcile {
    enum AnalysisGate: Equatable {
        case passed, waiting, failed, paused
    }

    /// The gate an analysis makes: passed once its run succeeds (or a user
    /// promoted past an Inconclusive one), failed (and the update aborted)
    /// when it fails or errs, paused while Inconclusive, else waiting.
    mutating func analysisGate(_ analysis: RolloutAnalysis, slot: AnalysisSlot, hash: String) -> AnalysisGate {
        let field = slot.field
        let before = status[keyPath: field]
        guard let run = ensureRun(analysis, slot: slot, hash: hash, recorded: before) else { return .waiting }
        // An Inconclusive run, or an escalated failure, that a user promoted past stays accepted.
        if before?.name == run.metadata.name, before?.status == .Successful,
           run.phase == .Inconclusive || (run.phase.isFailure && Escalation.of(run).holds) { return .passed }
        record(run, as: field)
        switch run.phase {
        case .Successful:
            return .passed
        case .Failed, .Error:
            return escalate(run, field: field, before: before)
        case .Inconclusive:
            // The one pause gate: held until a user promotes (or aborts).
            switch update.gate(.InconclusiveAnalysisRun, seconds: nil, now: now) {
            case .released, .expired:
                plan.event(.rolloutResumed, "Rollout resumed past an inconclusive analysis")
                status[keyPath: field]?.status = .Successful
                status[keyPath: field]?.message = "Inconclusive; promoted"
                return .passed
            case .started:
                plan.event(.rolloutPaused, "Rollout paused: analysis run \(run.metadata.name ?? "") was inconclusive; promote to go on, abort to roll back")
                return .paused
            case .holding:
                return .paused
            }
        case .Running, .Pending:
            return .waiting
        }
    }

    /// A failed run: abort (at once, or gradually), or, for a metric with
    /// `onFailure: {notify, thenAbortAfter}`, hold and tell the trigger's
    /// subscribers, then abort after the grace period unless a user promoted
    /// past it or acknowledged it (`kubectl aviary ack`: held until they decide).
    ///
    /// The hold takes over any other pause in force (a pause step, a
    /// background run failing during one): the alert goes out at once and
    /// the grace period runs from then. A promote read while it held goes
    /// past it for good (the run is recorded as promoted), whichever gate of
    /// this reconcile the release also opens.
    mutating func escalate(_ run: AnalysisRun, field: WritableKeyPath<RolloutStatus, RolloutAnalysisRunStatus?>,
                           before: RolloutAnalysisRunStatus?) -> AnalysisGate {
        guard case .notify(let trigger, let seconds, let metric) = Escalation.of(run) else {
            update.abort(now: now)
            return .failed
        }
        let runName = run.metadata.name ?? ""
        let begun = before?.name == runName && before?.status.isFailure == true
        if begun, intents.contains(.promote) {
            if case .released = update.phase { update.phase = .progressing }
            plan.event(.rolloutResumed, "Rollout resumed past the failed analysis run \(runName) (metric \(metric)): promoted")
            status[keyPath: field]?.status = .Successful
            status[keyPath: field]?.message = "Failed on \(metric); promoted past it"
            return .passed
        }
        if case .aborted = update.phase { return .failed }
        let acknowledged = rollout.metadata.annotations?[acknowledgedAnnotation] == runName
        if case .paused(let pause) = update.phase, pause.reason == .AnalysisEscalation, begun {
            if acknowledged { return .paused }
            let end = pause.startTime.secondsSinceEpoch + Int64(seconds)
            guard now.secondsSinceEpoch >= end else {
                plan.requeue(after: Double(end - now.secondsSinceEpoch))
                return .paused
            }
            plan.event(.analysisEscalated, "Nobody promoted or acknowledged the failed analysis run \(runName) (metric \(metric)) within \(Escalation.text(seconds)): aborting", warning: true)
            update.abort(now: now)
            return .failed
        }
        // It begins (or, after a restart, holds again): it takes over whatever pause was in force.
        update.phase = .paused(PauseCondition(reason: .AnalysisEscalation, startTime: now))
        plan.requeue(after: Double(seconds))
        if !begun {
            let ns = rollout.metadata.namespace ?? "default"
            let message = "Analysis run \(runName) failed on metric \(metric): holding for \(Escalation.text(seconds)), then aborting. "
                + "To go on: kubectl aviary promote \(name) -n \(ns); to take it over: kubectl aviary ack \(name) -n \(ns); to roll back now: kubectl aviary abort \(name) -n \(ns)"
            plan.event(.analysisEscalated, message, warning: true, trigger: trigger, run: runName)
        }
        return .paused
    }

    /// The run this analysis uses: the recorded one, else a running one of
    /// this hash and step (ours, from a reconcile whose status write was
    /// lost), else a new one under the first free name. nil until it exists.
    mutating func ensureRun(_ analysis: RolloutAnalysis, slot: AnalysisSlot, hash: String, recorded: RolloutAnalysisRunStatus?) -> AnalysisRun? {
        let runs = view.analysisRuns
        if let recorded, let run = runs.first(where: { $0.metadata.name == recorded.name }) { return run }
        if let run = runs.first(where: {
            $0.metadata.labels?[podTemplateHashLabel] == hash && $0.metadata.labels?[analysisStepLabel] == slot.label
                && !$0.phase.isTerminal && $0.spec.terminate != true
        }) { return run }
        let spec: AnalysisSpec
        do {
            spec = try AnalysisRunBuilder.spec(analysis, rollout: rollout, catalog: view.templates,
                                               hashes: .init(stable: status.stableRS, latest: hash))
        } catch {
            // Validation reports it as InvalidSpec; nothing starts.
            return nil
        }
        let base = "\(name)-\(hash)-\(slot.label)"
        let taken = Set(runs.compactMap(\.metadata.name))
        var runName = base
        var attempt = 0
        while taken.contains(runName) {
            attempt += 1
            runName = "\(base).\(attempt)"
        }
        let run = AnalysisRunBuilder.run(name: runName, spec: spec, rollout: rollout, hash: hash, slot: slot)
        plan.actions.append(.createAnalysisRun(run))
        plan.event(.analysisRunRunning, "Started analysis run \(runName) (\(slot.description))")
        return run
    }

    /// Copies what the run says into the Rollout's status, with an event when it ends.
    mutating func record(_ run: AnalysisRun, as field: WritableKeyPath<RolloutStatus, RolloutAnalysisRunStatus?>) {
        let name = run.metadata.name ?? ""
        let now = RolloutAnalysisRunStatus(name: name, status: run.phase, message: run.status?.message)
        let before = status[keyPath: field]
        status[keyPath: field] = now
        guard run.phase.isTerminal, before?.name != name || before?.status != run.phase else { return }
        let detail = run.status?.message.map { ": \($0)" } ?? ""
        switch run.phase {
        case .Successful: plan.event(.analysisRunSuccessful, "Analysis run \(name) succeeded\(detail)")
        case .Inconclusive: plan.event(.analysisRunInconclusive, "Analysis run \(name) was inconclusive\(detail)", warning: true)
        default: plan.event(run.phase == .Error ? .analysisRunError : .analysisRunFailed, "Analysis run \(name) \(run.phase == .Error ? "errored" : "failed")\(detail)", warning: true)
        }
    }

    /// Runs that no longer serve (a finished step, an abort, a promotion, an
    /// old template) are terminated; finished ones are pruned to the history limits.
    mutating func settleAnalysisRuns(current: [String]) {
        var successful = 0, unsuccessful = 0
        let history = rollout.spec.analysis
        let keepGood = history?.successfulRunHistoryLimit ?? AnalysisRunHistory.defaultLimit
        let keepBad = history?.unsuccessfulRunHistoryLimit ?? AnalysisRunHistory.defaultLimit
        let newestFirst = view.analysisRuns.sorted {
            ($0.metadata.creationTimestamp ?? now, $0.metadata.name ?? "") > ($1.metadata.creationTimestamp ?? now, $1.metadata.name ?? "")
        }
        for run in newestFirst {
            let runName = run.metadata.name ?? ""
            if current.contains(runName) { continue }
            guard run.phase.isTerminal else {
                if run.spec.terminate != true { plan.actions.append(.terminateAnalysisRun(name: runName)) }
                continue
            }
            if run.phase == .Successful {
                successful += 1
                if successful > keepGood { plan.actions.append(.deleteAnalysisRun(name: runName)) }
            } else {
                unsuccessful += 1
                if unsuccessful > keepBad { plan.actions.append(.deleteAnalysisRun(name: runName)) }
            }
        }
    }

    /// "Rollout aborted update to revision 3: analysis run web-6f7-2 Failed: success-rate: 0.82 did not satisfy …"
    func abortMessage(revision: Int) -> String {
        let base = "Rollout aborted update to revision \(revision)"
        let runs = [status.canaryStepRun, status.canaryBackgroundRun, status.blueGreenPreRun, status.blueGreenPostRun].compactMap { $0 }
        guard let cause = runs.first(where: { $0.status == .Failed || $0.status == .Error }) else { return base }
        return "\(base): analysis run \(cause.name) \(cause.status.rawValue): \(cause.message ?? "")"
    }

}

/// The runs a Rollout waits on, as writable paths into its status.
extension RolloutStatus {
    var canaryStepRun: RolloutAnalysisRunStatus? {
        get { canary?.currentStepAnalysisRunStatus }
        set {
            if canary == nil { canary = CanaryStatus(weights: nil) }
            canary?.currentStepAnalysisRunStatus = newValue
        }
    }

    var canaryBackgroundRun: RolloutAnalysisRunStatus? {
        get { canary?.currentBackgroundAnalysisRunStatus }
        set {
            if canary == nil { canary = CanaryStatus(weights: nil) }
            canary?.currentBackgroundAnalysisRunStatus = newValue
        }
    }

    var blueGreenPreRun: RolloutAnalysisRunStatus? {
        get { blueGreen?.prePromotionAnalysisRunStatus }
        set {
            if blueGreen == nil { blueGreen = BlueGreenStatus() }
            blueGreen?.prePromotionAnalysisRunStatus = newValue
        }
    }

    var blueGreenPostRun: RolloutAnalysisRunStatus? {
        get { blueGreen?.postPromotionAnalysisRunStatus }
        set {
            if blueGreen == nil { blueGreen = BlueGreenStatus() }
            blueGreen?.postPromotionAnalysisRunStatus = newValue
        }
    }
}
