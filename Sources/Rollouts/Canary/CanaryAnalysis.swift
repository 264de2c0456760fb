import AnalysisCore
import AviaryAPI
import KubeAPI

/// Analysis in a canary: the `analysis` step, which waits for its run, and
/// background analysis, which runs beside the steps. Both start AnalysisRuns
/// named `<rollout>-<hash>-<step>` (`…-background`); a Failed or Error run
/// aborts the update, an Inconclusive one pauses it until a promote.
extension Context {
    /// The step's run passed; otherwise the step waits (or the update aborts or pauses).
    mutating func stepAnalysisPassed(_ analysis: RolloutAnalysis, index: Int, hash: String) -> Bool {
        guard analysisGate(analysis, step: "\(index)", hash: hash, field: \.canaryStepRun) == .passed else { return false }
        status.canaryStepRun = nil
        return true
    }

    /// Background analysis, from startingStep until promotion.
    mutating func backgroundAnalysis(hash: String) {
        guard let analysis = strategy.analysis, status.abort != true else { return }
        let index = status.currentStepIndex ?? 0
        guard index >= (analysis.startingStep ?? 0), index < steps.count else { return }
        _ = analysisGate(analysis, step: "background", hash: hash, field: \.canaryBackgroundRun)
    }

    /// The step's run while the step waits on it, for the phase message.
    var awaitedStepRun: RolloutAnalysisRunStatus? {
        let index = status.currentStepIndex ?? 0
        guard index < steps.count, steps[index].analysis != nil,
              let recorded = status.canary?.currentStepAnalysisRunStatus, !recorded.status.isTerminal else { return nil }
        return recorded
    }

    mutating func setWeights(canary: Int, _ canaryHash: String?, stable: Int, _ stableHash: String?) {
        let weights = CanaryStatus.Weights(canary: .init(weight: canary, podTemplateHash: canaryHash),
                                           stable: .init(weight: stable, podTemplateHash: stableHash))
        if status.canary == nil { status.canary = CanaryStatus(weights: weights) } else { status.canary?.weights = weights }
    }
}
