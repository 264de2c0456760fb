import AviaryAPI

/// Where in an update an analysis runs. Its label value names the run
/// (`<rollout>-<hash>-<label>`) and marks it (`analysisStepLabel`), so a
/// restarted controller finds the run it started.
public enum AnalysisSlot: Hashable, Sendable {
    /// A canary `analysis` step, by index.
    case step(Int)
    /// The canary's background analysis.
    case background
    /// Blue-green, before and after promotion.
    case prePromotion, postPromotion

    public var label: String {
        switch self {
        case .step(let i): String(i)
        case .background: "background"
        case .prePromotion: "pre"
        case .postPromotion: "post"
        }
    }

    public init?(label: String) {
        switch label {
        case "background": self = .background
        case "pre": self = .prePromotion
        case "post": self = .postPromotion
        default:
            guard let i = Int(label), i >= 0 else { return nil }
            self = .step(i)
        }
    }

    /// For messages: "step 2", "pre-promotion".
    public var description: String {
        switch self {
        case .step(let i): "step \(i + 1)"
        case .background: "background"
        case .prePromotion: "pre-promotion"
        case .postPromotion: "post-promotion"
        }
    }

    /// Where the Rollout's status records this slot's run.
    var field: WritableKeyPath<RolloutStatus, RolloutAnalysisRunStatus?> {
        switch self {
        case .step: \.canaryStepRun
        case .background: \.canaryBackgroundRun
        case .prePromotion: \.blueGreenPreRun
        case .postPromotion: \.blueGreenPostRun
        }
    }
}
