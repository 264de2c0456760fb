import AviaryAPI
import KubeAPI

/// One line of `list rollouts` and of the dashboard's list: the columns, the
/// images, the labels (to filter by), and an attention rank, so the page and
/// the terminal show the same values.
public struct RolloutRow: Codable, Sendable, Hashable {
    public var namespace: String
    public var name: String
    public var createdAt: KubeTime?
    public var labels: [String: String]
    /// Canary or BlueGreen.
    public var strategy: String
    /// Healthy, Progressing, Paused, Degraded.
    public var phase: String
    public var icon: String
    public var message: String?
    /// Canary only: the current step and how many there are.
    public var step: Int?
    public var stepCount: Int?
    /// Canary only: what the steps ask for, and what serves (nil when unknown: no ReplicaSets were read).
    public var setWeight: Int?
    public var actualWeight: Int?
    public var images: [String]
    public var ready: Int
    public var desired: Int
    public var updated: Int
    public var available: Int
    /// 0 needs a person most: Paused 0, Degraded 1, Progressing 2, Healthy 3.
    public var attention: Int

    /// - Parameter replicaSets: the Rollout's ReplicaSets when known (the
    ///   dashboard's caches): they give the actual weight and the images.
    public init(_ r: Rollout, replicaSets: [ReplicaSet]? = nil) {
        let summary = RolloutSummary(RolloutTree.Input(rollout: r, replicaSets: replicaSets ?? [], pods: [], runs: []))
        namespace = summary.namespace
        name = summary.name
        createdAt = summary.createdAt
        labels = Dictionary((r.metadata.labels ?? [:]).prefix(64).map { (clipText($0.key, 317), clipText($0.value, 63)) }, uniquingKeysWith: { a, _ in a })
        strategy = summary.strategy
        phase = summary.phase
        icon = summary.icon
        message = summary.message
        step = summary.step
        stepCount = summary.stepCount
        // Without a router the set weight is the status' (the pod split); under one, what the steps ask for.
        setWeight = summary.setWeight
        actualWeight = replicaSets == nil && !summary.routed ? nil : summary.actualWeight
        images = summary.images.map(\.image)
        ready = summary.replicas.ready
        desired = summary.replicas.desired
        updated = summary.replicas.updated
        available = summary.replicas.available
        attention = Self.attention(summary.phase)
    }

    public static func attention(_ phase: String) -> Int {
        switch phase {
        case "Paused": return 0
        case "Degraded": return 1
        case "Progressing": return 2
        default: return 3
        }
    }

    /// Attention first, then namespace and name.
    public static func attentionFirst(_ a: RolloutRow, _ b: RolloutRow) -> Bool {
        (a.attention, a.namespace, a.name) < (b.attention, b.namespace, b.name)
    }
}
