import KubeAPI

/// The analysis a Rollout asks for: in a canary step, or in the background
/// (`strategy.canary.analysis`, from `startingStep` on).
public struct RolloutAnalysis: Codable, Sendable, Hashable {
    public var templates: [AnalysisTemplateRef]?
    /// Values for the templates' args; `valueFrom` may name `podTemplateHashValue` or a `fieldRef` of the Rollout.
    public var args: [AnalysisArgument]?
    public var dryRun: [MetricSelector]?
    public var measurementRetention: [MeasurementRetention]?
    /// Background analysis only: the step at which it starts (default 0).
    public var startingStep: Int?

    public init(templates: [AnalysisTemplateRef]? = nil, args: [AnalysisArgument]? = nil, startingStep: Int? = nil) {
        self.templates = templates
        self.args = args
        self.startingStep = startingStep
    }
}

public struct AnalysisTemplateRef: Codable, Sendable, Hashable {
    public var templateName: String
    /// True for a ClusterAnalysisTemplate.
    public var clusterScope: Bool?

    public init(templateName: String, clusterScope: Bool? = nil) {
        self.templateName = templateName
        self.clusterScope = clusterScope
    }
}

/// `spec.analysis`: how many finished AnalysisRuns a Rollout keeps.
public struct AnalysisRunHistory: Codable, Sendable, Hashable {
    public var successfulRunHistoryLimit: Int?
    public var unsuccessfulRunHistoryLimit: Int?

    public init() {}

    public static let defaultLimit = 5
}

/// A Rollout's view of one AnalysisRun it started (`status.canary.currentStepAnalysisRunStatus`, …).
public struct RolloutAnalysisRunStatus: Codable, Sendable, Hashable {
    public var name: String
    public var status: AnalysisPhase
    public var message: String?

    public init(name: String, status: AnalysisPhase, message: String? = nil) {
        self.name = name
        self.status = status
        self.message = message
    }
}
