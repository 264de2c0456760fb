import AviaryAPI
import KubeAPI

/// Traffic by pod counts, with no router: a weight is a split of the pods,
/// kept within maxSurge and maxUnavailable by `Scaling`; the stable and
/// canary Services select their side by the pod-template-hash label.
struct ReplicaTraffic: TrafficRouting {
    var canaryService: String?
    var stableService: String?
    var replicas: Int
    var maxSurge: Int
    var maxUnavailable: Int

    func move(to target: TrafficTarget, canary: ReplicaSet?, stable: ReplicaSet, _ r: inout Reconcile) {
        r.setWeights(canary: target.weight, canary?.podTemplateHash, stable: 100 - target.weight, stable.podTemplateHash)
        r.scale(canary: canary, stable: stable, to: target.split, maxSurge: maxSurge, maxUnavailable: maxUnavailable)
        let both = [stable] + (canary.map { [$0] } ?? [])
        r.pointService(stableService, at: both, share: share(r))
        r.pointService(canaryService, at: target.canaryServiceOnStable ? both : both.reversed(), share: share(r))
    }

    func reached(_ target: TrafficTarget, canary: ReplicaSet, stable: ReplicaSet, _ r: Reconcile) -> Bool {
        canary.desiredReplicas == target.split.canary && r.available(canary) >= target.split.canary
            && stable.desiredReplicas == target.split.stable && r.available(stable) >= target.split.stable
            && r.others(except: [canary.podTemplateHash ?? "", stable.podTemplateHash ?? ""]).allSatisfy { $0.desiredReplicas == 0 }
    }

    func settle(on rs: ReplicaSet, _ r: inout Reconcile) {
        let hash = rs.podTemplateHash
        // Argo's convention: a completed canary is at weight 100 (canary and stable are one ReplicaSet).
        r.setWeights(canary: 100, hash, stable: 0, hash)
        r.scale(canary: nil, stable: rs, to: ReplicaSplit(canary: 0, stable: replicas), maxSurge: maxSurge, maxUnavailable: maxUnavailable)
        r.pointService(stableService, at: [rs], share: share(r))
        r.pointService(canaryService, at: [rs], share: share(r))
    }

    /// Moving off serving pods: only to a side that can carry its share of the traffic.
    private func share(_ r: Reconcile) -> (ReplicaSet) -> Int {
        { rs in min(r.plannedSize(rs), max(1, replicas - maxUnavailable)) }
    }
}

extension Reconcile {
    /// Moves ReplicaSet sizes toward `target` within maxSurge and maxUnavailable (`Scaling`).
    mutating func scale(canary: ReplicaSet?, stable: ReplicaSet, to target: ReplicaSplit, maxSurge: Int, maxUnavailable: Int) {
        let keep = [stable.podTemplateHash ?? "", canary?.podTemplateHash ?? ""]
        func current(_ rs: ReplicaSet) -> ScalingInput.Current {
            ScalingInput.Current(name: rs.metadata.name ?? "", replicas: rs.desiredReplicas, available: available(rs))
        }
        let input = ScalingInput(
            replicas: replicas, maxSurge: maxSurge, maxUnavailable: maxUnavailable,
            canary: canary.map(current), stable: current(stable),
            others: others(except: keep).sorted { ($0.revision ?? 0) < ($1.revision ?? 0) }.map(current))
        for (rsName, size) in Scaling.step(input, target: target).sorted(by: { $0.key < $1.key }) {
            if let rs = owned.first(where: { $0.metadata.name == rsName }) { setSize(rs, size) }
        }
    }
}
