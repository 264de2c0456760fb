import AviaryAPI
import Kube
import Rollouts

/// Which Rollouts look again when something in a cache changes: a pure
/// mapping from a changed object to Rollout keys, given the Rollouts cache
/// to look in. The informers' change handlers only enqueue what this says.
struct ChangeKeys: Sendable {
    /// Rollouts filed under an index key (see `IndexKey.rollout`).
    var rollouts: @Sendable (IndexKey) -> [Rollout]
    /// Every Rollout (a cluster-wide template may be named by any of them).
    var allRollouts: @Sendable () -> [Rollout]

    /// A Rollout changed: it looks again; one deleted needs nothing.
    func rollout(_ new: Rollout?) -> [ObjectKey] {
        new.map { [ObjectKey($0.metadata)] } ?? []
    }

    /// A Rollout that does not decode looks again, to say so on itself.
    func undecodableRollout(_ u: Undecodable, deleted: Bool) -> [ObjectKey] {
        deleted ? [] : [ObjectKey(u.metadata)]
    }

    /// A ReplicaSet changed: its owning Rollout looks again; an orphan, every
    /// Rollout of its namespace whose selector matches it (it may adopt it).
    /// One owned by anything but a Rollout is none of ours.
    func replicaSet(_ rs: ReplicaSet) -> [ObjectKey] {
        if let owner = rs.metadata.ownerReferences?.first(where: { $0.controller == true }) {
            guard owner.kind == "Rollout" else { return [] }
            return [ObjectKey(namespace: rs.metadata.namespace, name: owner.name)]
        }
        return rollouts(.namespace(rs.metadata.namespace ?? ""))
            .filter { $0.spec.selector?.matches(rs.metadata.labels ?? [:]) == true }
            .map { ObjectKey($0.metadata) }
    }

    /// A Service changed: the Rollouts that name it look again.
    func service(_ svc: Service) -> [ObjectKey] {
        guard let name = svc.metadata.name else { return [] }
        return rollouts(.service(ObjectKey(namespace: svc.metadata.namespace ?? "", name: name))).map { ObjectKey($0.metadata) }
    }

    /// A route object changed (a VirtualService, DestinationRule or HTTPRoute):
    /// every Rollout whose router names it looks again, so an edit of what a
    /// router owns (a weight, a managed route) is put back.
    func route(_ kind: RouteKind, _ meta: ObjectMeta) -> [ObjectKey] {
        guard let name = meta.name else { return [] }
        return rollouts(.route(RouteRef(kind, namespace: meta.namespace ?? "", name: name))).map { ObjectKey($0.metadata) }
    }

    /// Pods are read by a reconcile, never waited on: their ReplicaSet's
    /// status (ready, available) is what changes when they do.
    func pod(_ pod: Pod) -> [ObjectKey] { [] }

    /// Something with a controller owner changed (an AnalysisRun, readable or
    /// not): if a Rollout owns it, that Rollout looks again.
    func owned(_ meta: ObjectMeta) -> [ObjectKey] {
        guard let owner = meta.ownerReferences?.first(where: { $0.controller == true }), owner.kind == "Rollout" else { return [] }
        return [ObjectKey(namespace: meta.namespace, name: owner.name)]
    }

    /// Templates of a namespace (nil: cluster-wide ones) changed: every Rollout
    /// that could reference them looks again (a fixed template clears InvalidSpec).
    func templates(namespace: String?) -> [ObjectKey] {
        (namespace.map { rollouts(.namespace($0)) } ?? allRollouts()).map { ObjectKey($0.metadata) }
    }

    /// A ConfigMap or Secret changed: a snapshot's Rollout looks again (its
    /// owners, its cleanup); any other object, the tracking Rollouts that name it
    /// (an edit is a new template). Others' objects enqueue nothing.
    func config(_ kind: ConfigKind, _ meta: ObjectMeta) -> [ObjectKey] {
        let ns = meta.namespace ?? ""
        if meta.labels?[ConfigTracking.snapshotLabel] == "true" {
            guard let rollout = meta.annotations?[ConfigTracking.rolloutAnnotation], !rollout.isEmpty else { return [] }
            return [ObjectKey(namespace: meta.namespace, name: rollout)]
        }
        guard let name = meta.name else { return [] }
        return rollouts(.namesConfig(namespace: ns, ConfigObjectRef(kind, name))).map { ObjectKey($0.metadata) }
    }
}
