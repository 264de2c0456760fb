import AviaryAPI
import KubeAPI

/// Traffic through a router (Istio, Gateway API): the route objects carry
/// the weights, so the pods only have to be there for them. The canary runs
/// the pods its weight needs; stable stays at full size (or shrinks with its
/// weight under dynamicStableScale). A weight is raised only once the canary
/// has the pods for it; it is lowered at once.
struct RoutedTraffic: TrafficRouting {
    let writer: any RouteWriter
    let canaryService: String?
    let stableService: String?
    /// Subset-level Istio routing: the Services are left alone.
    let subsetLevel: Bool
    let replicas: Int
    let maxSurge: Int
    let maxUnavailable: Int
    let maxWeight: Int

    /// Pods that carry `weight` of `maxWeight`: ceil(weight × replicas / maxWeight).
    func pods(for weight: Int) -> Int {
        guard maxWeight > 0, weight > 0 else { return 0 }
        return min(replicas, (weight * replicas + maxWeight - 1) / maxWeight)
    }

    func move(to target: TrafficTarget, canary: ReplicaSet?, stable: ReplicaSet, _ r: inout Reconcile) {
        r.scale(canary: canary, stable: stable, to: target.split, maxSurge: maxSurge, maxUnavailable: maxUnavailable)
        if !subsetLevel {
            r.pointService(stableService, at: [stable], share: { _ in 1 })
            let canarySide = target.canaryServiceOnStable ? [stable] : (canary.map { [$0] } ?? []) + [stable]
            r.pointService(canaryService, at: canarySide, share: { _ in 1 })
        }
        let held = writer.heldWeight(r.view) ?? 0
        let canaryReady = canary.map { r.available($0) >= pods(for: target.weight) } ?? (target.weight == 0)
        let weight = target.weight <= held || canaryReady ? target.weight : held
        let hashes = RouteHashes(canary: canary?.podTemplateHash, stable: stable.podTemplateHash,
                                 canaryReady: canary.map { r.available($0) >= $0.desiredReplicas && $0.desiredReplicas > 0 } ?? false)
        let routes = target.weight == weight ? target : TrafficTarget(weight: weight, split: target.split)
        let patches = writer.patches(weight: weight, target: routes, hashes: hashes, r.view)
        for (ref, ops) in patches { r.plan.actions.append(.patchRoute(ref, ops)) }
        restored(patches, weight: weight, names: routes.managedRouteNames, &r)
        r.setWeights(canary: weight, canary?.podTemplateHash, stable: maxWeight - weight, stable.podTemplateHash,
                     services: (canaryService, stableService), verified: patches.isEmpty && held == weight)
        let names = routes.managedRouteNames
        if r.status.canary == nil { r.status.canary = CanaryStatus(weights: nil) }
        r.status.canary?.managedRoutes = names.isEmpty ? nil : names
    }

    /// Drift: the objects held what this controller set last time (verified),
    /// nothing was to change, and now they do not: someone edited them. Put
    /// back, and said, so a GitOps tool fighting the controller is visible.
    func restored(_ patches: [(RouteRef, [JSONPatchOperation])], weight: Int, names: [String], _ r: inout Reconcile) {
        guard !patches.isEmpty, let last = r.old.canary?.weights, last.verified == true, last.canary.weight == weight,
              (r.old.canary?.managedRoutes ?? []) == names else { return }
        let objects = patches.map(\.0.description).joined(separator: ", ")
        r.plan.event(.trafficRouteRestored, "\(objects) changed outside aviary; put back canary weight \(weight)"
                     + (names.isEmpty ? "" : " and routes \(names.joined(separator: ", "))")
                     + " (aviary owns these fields while the Rollout routes through it)", warning: true)
    }

    func reached(_ target: TrafficTarget, canary: ReplicaSet, stable: ReplicaSet, _ r: Reconcile) -> Bool {
        let hashes = RouteHashes(canary: canary.podTemplateHash, stable: stable.podTemplateHash,
                                 canaryReady: r.available(canary) >= canary.desiredReplicas && canary.desiredReplicas > 0)
        return canary.desiredReplicas == target.split.canary && r.available(canary) >= target.split.canary
            && stable.desiredReplicas == target.split.stable && r.available(stable) >= target.split.stable
            && writer.heldWeight(r.view) == target.weight
            && writer.patches(weight: target.weight, target: target, hashes: hashes, r.view).isEmpty
    }

    /// Everything on `rs`: both Services (host-level) or both subsets on its
    /// hash, all weight to stable, managed routes gone, the rest drained.
    func settle(on rs: ReplicaSet, _ r: inout Reconcile) {
        let hash = rs.podTemplateHash
        r.scale(canary: nil, stable: rs, to: ReplicaSplit(canary: 0, stable: replicas), maxSurge: maxSurge, maxUnavailable: maxUnavailable)
        if !subsetLevel {
            r.pointService(stableService, at: [rs], share: { _ in 1 })
            r.pointService(canaryService, at: [rs], share: { _ in 1 })
        }
        let ready = r.available(rs) >= rs.desiredReplicas
        let hashes = RouteHashes(canary: hash, stable: ready ? hash : nil, canaryReady: ready)
        let patches = writer.patches(weight: 0, target: TrafficTarget(weight: 0, split: ReplicaSplit(canary: 0, stable: replicas)), hashes: hashes, r.view)
        for (ref, ops) in patches { r.plan.actions.append(.patchRoute(ref, ops)) }
        let held = writer.heldWeight(r.view)
        r.setWeights(canary: 0, hash, stable: maxWeight, hash, services: (canaryService, stableService),
                     verified: patches.isEmpty && (held ?? 0) == 0)
        r.status.canary?.managedRoutes = nil
    }
}
