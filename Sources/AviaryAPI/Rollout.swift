import KubeAPI

/// The label that shards Rollouts (and their AnalysisRuns) across controllers (`--instance-id`).
public let instanceIDLabel = "aviary.dev/instance-id"

/// The Rollout resource (aviary.dev/v1alpha1). Spec field names are Argo
/// Rollouts', so an Argo manifest works after changing only apiVersion.
public struct Rollout: KubeObject {
    public static let group = "aviary.dev"
    public static let version = "v1alpha1"
    public static let apiVersion = "aviary.dev/v1alpha1"
    public static let resource = Resource(group: group, version: version, plural: "rollouts", namespaced: true)

    public var apiVersion: String? = Rollout.apiVersion
    public var kind: String? = "Rollout"
    public var metadata: ObjectMeta
    public var spec: RolloutSpec
    public var status: RolloutStatus?

    public init(metadata: ObjectMeta, spec: RolloutSpec, status: RolloutStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct RolloutSpec: Codable, Sendable, Hashable {
    public var replicas: Int?
    public var selector: LabelSelector?
    /// The pod template, kept raw: copied into ReplicaSets, never interpreted.
    public var template: JSONValue?
    public var minReadySeconds: Int?
    public var revisionHistoryLimit: Int?
    public var paused: Bool?
    public var progressDeadlineSeconds: Int?
    public var progressDeadlineAbort: Bool?
    public var restartAt: KubeTime?
    public var strategy: RolloutStrategy?
    /// How many finished AnalysisRuns to keep.
    public var analysis: AnalysisRunHistory?
    public var rollbackWindow: RollbackWindow?
    /// Not supported: read only so validation can say so rather than ignore it.
    public var workloadRef: JSONValue?

    public init(replicas: Int? = nil, selector: LabelSelector? = nil, template: JSONValue? = nil, strategy: RolloutStrategy? = nil) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
        self.strategy = strategy
    }

    // Argo's defaults, which users already assume.
    public static let defaultReplicas = 1
    public static let defaultRevisionHistoryLimit = 10
    public static let defaultProgressDeadlineSeconds = 600

    public var effectiveReplicas: Int { replicas ?? Self.defaultReplicas }
    public var effectiveRevisionHistoryLimit: Int { revisionHistoryLimit ?? Self.defaultRevisionHistoryLimit }
    public var effectiveProgressDeadlineSeconds: Int { progressDeadlineSeconds ?? Self.defaultProgressDeadlineSeconds }
}

public struct RolloutStrategy: Codable, Sendable, Hashable {
    public var canary: CanaryStrategy?
    public var blueGreen: BlueGreenStrategy?

    public init(canary: CanaryStrategy? = nil, blueGreen: BlueGreenStrategy? = nil) {
        self.canary = canary
        self.blueGreen = blueGreen
    }
}

/// Labels and annotations added to a ReplicaSet's pods by role.
public struct PodMetadata: Codable, Sendable, Hashable {
    public var labels: [String: String]?
    public var annotations: [String: String]?

    public init(labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.labels = labels
        self.annotations = annotations
    }
}
