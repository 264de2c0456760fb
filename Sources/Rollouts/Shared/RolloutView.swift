import AviaryAPI
import Kube

/// Everything one reconcile may look at, read from the informer caches.
public struct RolloutView: Sendable {
    public var rollout: Rollout
    /// ReplicaSets this Rollout owns (or that match it with no owner: adoption candidates).
    public var replicaSets: [ReplicaSet]
    /// The Services the strategy names, by name; a missing one is absent.
    public var services: [String: Service]
    /// Pods of the stable ReplicaSet: read only for spec.restartAt.
    public var stablePods: [Pod]
    public var now: KubeTime

    public init(rollout: Rollout, replicaSets: [ReplicaSet], services: [String: Service], stablePods: [Pod] = [], now: KubeTime) {
        self.rollout = rollout
        self.replicaSets = replicaSets
        self.services = services
        self.stablePods = stablePods
        self.now = now
    }
}
