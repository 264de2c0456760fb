import Analysis
import AviaryAPI
import Kube

/// Analysis in a canary: the `analysis` step, which waits for its run, and
/// background analysis, which runs beside the steps. Both start AnalysisRuns
/// named `<rollout>-<hash>-<step>` (`…-background`), owned by the Rollout; a
/// Failed or Error run aborts the update, an Inconclusive one pauses it until
/// a promote.
extension Context {
    /// The step's run passed; otherwise the step waits (or the update aborts or pauses).
    mutating func stepAnalysisPassed(_ analysis: RolloutAnalysis, index: Int, hash: String) -> Bool {
        guard let run = ensureRun(analysis, step: "\(index)", hash: hash, recorded: status.canary?.currentStepAnalysisRunStatus) else {
            return false
        }
        let before = status.canary?.currentStepAnalysisRunStatus
        record(run, as: \.currentStepAnalysisRunStatus)
        switch run.phase {
        case .Successful:
            status.canary?.currentStepAnalysisRunStatus = nil
            return true
        case .Failed, .Error:
            status.abort = true
            return false
        case .Inconclusive:
            if inconclusivePauseIsOver() {
                status.canary?.currentStepAnalysisRunStatus = nil
                return true
            }
            if before?.status != .Inconclusive { pauseForInconclusive(run) }
            return false
        case .Running, .Pending:
            return false
        }
    }

    /// Background analysis, from startingStep until promotion.
    mutating func backgroundAnalysis(hash: String) {
        guard let analysis = strategy.analysis, status.abort != true else { return }
        let index = status.currentStepIndex ?? 0
        guard index >= (analysis.startingStep ?? 0), index < steps.count else { return }
        let recorded = status.canary?.currentBackgroundAnalysisRunStatus
        guard let run = ensureRun(analysis, step: "background", hash: hash, recorded: recorded) else { return }
        // An Inconclusive background run that a user promoted past stays accepted.
        if recorded?.name == run.metadata.name, recorded?.status == .Successful, run.phase == .Inconclusive { return }
        record(run, as: \.currentBackgroundAnalysisRunStatus)
        switch run.phase {
        case .Failed, .Error:
            status.abort = true
        case .Inconclusive:
            if inconclusivePauseIsOver() {
                status.canary?.currentBackgroundAnalysisRunStatus?.status = .Successful
                status.canary?.currentBackgroundAnalysisRunStatus?.message = "Inconclusive; promoted"
            } else if recorded?.status != .Inconclusive {
                pauseForInconclusive(run)
            }
        default:
            break
        }
    }

    /// The step's run while the step waits on it, for the phase message.
    var awaitedStepRun: RolloutAnalysisRunStatus? {
        let index = status.currentStepIndex ?? 0
        guard index < steps.count, steps[index].analysis != nil,
              let recorded = status.canary?.currentStepAnalysisRunStatus, !recorded.status.isTerminal else { return nil }
        return recorded
    }

    /// The run this analysis uses: the recorded one, else a running one of
    /// this hash and step (ours, from a reconcile whose status write was
    /// lost), else a new one under the first free name. nil until it exists.
    mutating func ensureRun(_ analysis: RolloutAnalysis, step: String, hash: String, recorded: RolloutAnalysisRunStatus?) -> AnalysisRun? {
        let runs = view.analysisRuns
        if let recorded, let run = runs.first(where: { $0.metadata.name == recorded.name }) { return run }
        if let run = runs.first(where: {
            $0.metadata.labels?[podTemplateHashLabel] == hash && $0.metadata.labels?[analysisStepLabel] == step
                && !$0.phase.isTerminal && $0.spec.terminate != true
        }) { return run }
        let spec: AnalysisSpec
        do {
            spec = try AnalysisRunBuilder.spec(analysis, rollout: rollout, catalog: view.templates,
                                               hashes: .init(stable: old.stableRS, latest: hash))
        } catch {
            // Validation reports it as InvalidSpec; nothing starts.
            return nil
        }
        let base = "\(name)-\(hash)-\(step)"
        let taken = Set(runs.compactMap(\.metadata.name))
        var runName = base
        var attempt = 0
        while taken.contains(runName) {
            attempt += 1
            runName = "\(base).\(attempt)"
        }
        let run = AnalysisRunBuilder.run(name: runName, spec: spec, rollout: rollout, hash: hash, step: step)
        plan.actions.append(.createAnalysisRun(run))
        plan.event("AnalysisRunRunning", "Started analysis run \(runName) (\(step == "background" ? "background" : "step \((Int(step) ?? 0) + 1)"))")
        return run
    }

    /// Copies what the run says into the Rollout's status, with an event when it ends.
    mutating func record(_ run: AnalysisRun, as field: WritableKeyPath<CanaryStatus, RolloutAnalysisRunStatus?>) {
        if status.canary == nil { status.canary = CanaryStatus(weights: nil) }
        let name = run.metadata.name ?? ""
        let now = RolloutAnalysisRunStatus(name: name, status: run.phase, message: run.status?.message)
        let before = status.canary?[keyPath: field]
        status.canary?[keyPath: field] = now
        guard run.phase.isTerminal, before?.name != name || before?.status != run.phase else { return }
        let detail = run.status?.message.map { ": \($0)" } ?? ""
        switch run.phase {
        case .Successful: plan.event("AnalysisRunSuccessful", "Analysis run \(name) succeeded\(detail)")
        case .Inconclusive: plan.event("AnalysisRunInconclusive", "Analysis run \(name) was inconclusive\(detail)", warning: true)
        default: plan.event("AnalysisRun\(run.phase.rawValue)", "Analysis run \(name) \(run.phase == .Error ? "errored" : "failed")\(detail)", warning: true)
        }
    }

    /// True once a user has promoted past the Inconclusive pause we set.
    mutating func inconclusivePauseIsOver() -> Bool {
        if status.pauseConditions?.contains(where: { $0.reason == .InconclusiveAnalysisRun }) == true { return false }
        guard status.controllerPause == true else { return false }
        status.controllerPause = nil
        plan.event("RolloutResumed", "Rollout resumed past an inconclusive analysis")
        return true
    }

    mutating func pauseForInconclusive(_ run: AnalysisRun) {
        guard status.pauseConditions?.contains(where: { $0.reason == .InconclusiveAnalysisRun }) != true else { return }
        status.pauseConditions = (status.pauseConditions ?? []) + [PauseCondition(reason: .InconclusiveAnalysisRun, startTime: now)]
        status.controllerPause = true
        plan.event("RolloutPaused", "Rollout paused: analysis run \(run.metadata.name ?? "") was inconclusive; promote to go on, abort to roll back")
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
        let runs = [status.canary?.currentStepAnalysisRunStatus, status.canary?.currentBackgroundAnalysisRunStatus].compactMap { $0 }
        guard let cause = runs.first(where: { $0.status == .Failed || $0.status == .Error }) else { return base }
        return "\(base): analysis run \(cause.name) \(cause.status.rawValue): \(cause.message ?? "")"
    }

    mutating func setWeights(canary: Int, _ canaryHash: String?, stable: Int, _ stableHash: String?) {
        let weights = CanaryStatus.Weights(canary: .init(weight: canary, podTemplateHash: canaryHash),
                                           stable: .init(weight: stable, podTemplateHash: stableHash))
        if status.canary == nil { status.canary = CanaryStatus(weights: weights) } else { status.canary?.weights = weights }
    }
}
