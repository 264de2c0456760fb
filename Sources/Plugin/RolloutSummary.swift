import AviaryAPI
import KubeAPI

/// One Rollout as `get rollout` and the dashboard show it: the header, the
/// steps, the weights, revisions → ReplicaSets → pods, the AnalysisRuns with
/// their measurements, and the conditions. A value built once (`RolloutSummary.init(_:)`,
/// pure), so the terminal and the page read the same facts and never disagree;
/// its JSON encoding is the dashboard's API.
public struct RolloutSummary: Codable, Sendable, Hashable {
    /// Statuses come as a phase and its mark (icon "✔", phase "Healthy"); the text renderer prints "✔ Healthy".
    public struct Replicas: Codable, Sendable, Hashable {
        public var desired: Int
        public var current: Int
        public var updated: Int
        public var ready: Int
        public var available: Int
    }

    /// An image in the header, with the role of the ReplicaSet that runs it.
    public struct Image: Codable, Sendable, Hashable {
        public var image: String
        public var role: String
    }

    /// A canary step: "done", "current" or "pending"; the current one says what it waits for.
    public struct Step: Codable, Sendable, Hashable {
        /// 1-based, as `get` and the events count.
        public var index: Int
        /// setWeight, pause, setCanaryScale, analysis, setHeaderRoute, setMirrorRoute, unsupported.
        public var kind: String
        public var text: String
        public var state: String
        public var waitingFor: String?
    }

    public struct Pod: Codable, Sendable, Hashable {
        public var name: String
        public var phase: String
        public var icon: String
        public var ready: Bool
    }

    public struct ReplicaSet: Codable, Sendable, Hashable {
        public var name: String
        public var podTemplateHash: String?
        /// stable, canary, active, preview, old, scaled down.
        public var role: String
        /// Healthy, Progressing, ScaledDown.
        public var phase: String
        public var icon: String
        public var desired: Int
        public var ready: Int
        public var available: Int
        public var images: [String]
        public var createdAt: KubeTime?
        public var pods: [Pod]
        /// Config tracking's snapshots for this ReplicaSet ("ConfigMap/web-config-b5f7c9"); nil when
        /// it has none, so pages that predate tracking see the same JSON.
        public var configSnapshots: [String]?
    }

    public struct Revision: Codable, Sendable, Hashable {
        public var revision: Int
        public var replicaSets: [ReplicaSet]
        /// The names of this revision's AnalysisRuns (details in `analysisRuns`).
        public var analysisRuns: [String]
    }

    public struct Run: Codable, Sendable, Hashable {
        public struct Counts: Codable, Sendable, Hashable {
            public var successful: Int
            public var failed: Int
            public var inconclusive: Int
            public var error: Int
        }
        public var name: String
        /// Pending, Running, Successful, Failed, Error, Inconclusive.
        public var phase: String
        public var icon: String
        public var podTemplateHash: String?
        public var revision: Int?
        /// Which analysis made it: "step 2", "background", "pre-promotion", "post-promotion".
        public var slot: String?
        public var startedAt: KubeTime?
        public var completedAt: KubeTime?
        /// The message that decided the run (metric, value, condition).
        public var message: String?
        public var summary: String?
        public var counts: Counts
        public var metrics: [RunMetric]
    }

    public struct Condition: Codable, Sendable, Hashable {
        public var type: String
        public var status: String
        public var reason: String
        public var message: String
        public var lastTransitionTime: KubeTime?
    }

    public var name: String
    public var namespace: String
    public var createdAt: KubeTime?
    /// Healthy, Progressing, Paused, Degraded (Progressing until the controller has seen the latest spec).
    public var phase: String
    public var icon: String
    public var message: String?
    /// Canary or BlueGreen.
    public var strategy: String
    /// Canary: the router ("Istio VirtualService web (routes: primary)", "replica split").
    public var traffic: String?
    /// Canary: true when a router carries the weights.
    public var routed: Bool
    /// Canary: the current step (0 … stepCount) and how many there are.
    public var step: Int?
    public var stepCount: Int?
    /// Canary: what the steps ask for now, and what serves.
    public var setWeight: Int?
    public var actualWeight: Int?
    /// Under a router: whether the weight was read back from the route objects (nil: not written yet).
    public var weightVerified: Bool?
    /// Header and mirror routes in force.
    public var routes: [String]
    /// Where a gradual rollback stands.
    public var rollback: String?
    /// How an abort moves traffic back (nil: all at once).
    public var abortStrategy: String?
    /// Blue-green: Preview, Promoting, PostPromotion.
    public var stage: String?
    public var paused: Bool
    public var aborted: Bool
    public var images: [Image]
    public var replicas: Replicas
    public var steps: [Step]
    public var revisions: [Revision]
    public var analysisRuns: [Run]
    public var conditions: [Condition]
}

// Caps: everything here was written by someone, and a page must stay small.
extension RolloutSummary {
    static let maxSteps = 1_000
    static let maxReplicaSets = 200
    static let maxPodsPerReplicaSet = 200
    static let maxRuns = 50
    static let maxMetricsPerRun = 50
    static let maxMeasurements = 200
    static let maxText = 4_096
    static let maxSnapshots = 50
}
