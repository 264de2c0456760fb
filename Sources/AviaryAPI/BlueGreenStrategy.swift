import KubeAPI

/// Blue-green: the new version stands up beside the old one, is checked on
/// the preview Service, then takes all traffic in one selector switch.
public struct BlueGreenStrategy: Codable, Sendable, Hashable {
    public var activeService: String?
    public var previewService: String?
    /// Size of the new ReplicaSet before promotion (default: full size).
    public var previewReplicaCount: Int?
    public var autoPromotionEnabled: Bool?
    /// Promote this long after the new ReplicaSet is ready (and pre-promotion analysis passed).
    public var autoPromotionSeconds: Int?
    public var scaleDownDelaySeconds: Int?
    /// How many old ReplicaSets may keep running during their scale-down delay.
    public var scaleDownDelayRevisionLimit: Int?
    public var abortScaleDownDelaySeconds: Int?
    public var prePromotionAnalysis: RolloutAnalysis?
    public var postPromotionAnalysis: RolloutAnalysis?
    public var activeMetadata: PodMetadata?
    public var previewMetadata: PodMetadata?

    public init(activeService: String? = nil, previewService: String? = nil) {
        self.activeService = activeService
        self.previewService = previewService
    }

    public static let defaultScaleDownDelaySeconds = 30
    public static let defaultAbortScaleDownDelaySeconds = 30
}

/// Where a blue-green update stands, as an explicit state machine:
/// Preview → (promotion) → Promoting → (cutover) → PostPromotion → stable.
public enum BlueGreenStage: String, Codable, Sendable, Hashable {
    /// The new ReplicaSet comes up and is checked on the preview Service.
    case Preview
    /// Promotion is granted: the new ReplicaSet grows to full size; active switches once it is fully available.
    case Promoting
    /// Active serves the new ReplicaSet; post-promotion analysis decides whether it stays.
    case PostPromotion
}

public struct BlueGreenStatus: Codable, Sendable, Hashable {
    /// The hash the active Service selects.
    public var activeSelector: String?
    /// The hash the preview Service selects.
    public var previewSelector: String?
    public var stage: BlueGreenStage?
    public var prePromotionAnalysisRunStatus: RolloutAnalysisRunStatus?
    public var postPromotionAnalysisRunStatus: RolloutAnalysisRunStatus?

    public init() {}
}

/// `spec.rollbackWindow`: going back to one of the last `revisions`
/// ReplicaSets skips steps, pauses and analysis.
public struct RollbackWindow: Codable, Sendable, Hashable {
    public var revisions: Int?
    public init(revisions: Int? = nil) { self.revisions = revisions }
}
