import AviaryAPI
import KubeAPI
import Rollouts

/// A secondary index of an informer cache: the ways a reconcile (or a change
/// handler) finds objects without scanning them all. Each informer files its
/// objects under the cases that concern it.
public enum IndexKey: Hashable, Sendable {
    /// Rollouts and templates of a namespace.
    case namespace(String)
    /// Rollouts that name this Service in their strategy.
    case service(ObjectKey)
    /// Objects whose controller owner reference has this UID (ReplicaSets, AnalysisRuns).
    case controller(uid: String)
    /// ReplicaSets of a namespace with no controller owner: candidates for adoption.
    case orphan(namespace: String)
    /// Pods of one ReplicaSet, by the hash label they share with it.
    case podTemplateHash(namespace: String, hash: String)
    /// Rollouts whose traffic router names this route object.
    case route(RouteRef)
    /// Rollouts tracking configuration whose template names this ConfigMap or Secret.
    case namesConfig(namespace: String, ConfigObjectRef)
    /// Configuration snapshots of one Rollout (by its name: snapshots carry it in an annotation).
    case snapshots(namespace: String, rollout: String)
}

extension IndexKey {
    /// The controller owner's UID, if any.
    static func controllerUID(_ meta: ObjectMeta) -> String? {
        meta.ownerReferences?.first(where: { $0.controller == true })?.uid
    }

    /// ReplicaSets: by controller owner, else as an orphan of their namespace.
    @Sendable static func replicaSet(_ rs: ReplicaSet) -> [IndexKey] {
        if let uid = controllerUID(rs.metadata) { return [.controller(uid: uid)] }
        return [.orphan(namespace: rs.metadata.namespace ?? "")]
    }

    /// Rollouts: by namespace (for orphan adoption and templates), by each
    /// Service and each route object they name, so a change maps to its
    /// Rollouts without a scan.
    @Sendable static func rollout(_ r: Rollout) -> [IndexKey] {
        let ns = r.metadata.namespace ?? ""
        let config = ConfigTracking.isRequested(by: r.metadata)
            ? Set(ConfigReferences.find(in: r.spec.template).map(\.ref)).map { IndexKey.namesConfig(namespace: ns, $0) } : []
        return [.namespace(ns)] + RolloutController.serviceNames(r).map { .service(ObjectKey(namespace: ns, name: $0)) }
            + RouteRef.named(by: r).map { .route($0) } + config
    }

    /// ConfigMaps and Secrets: a snapshot by its Rollout; anything else is found by name.
    @Sendable static func config<K>(_ object: ConfigObject<K>) -> [IndexKey] {
        guard object.metadata.labels?[ConfigTracking.snapshotLabel] == "true",
              let rollout = object.metadata.annotations?[ConfigTracking.rolloutAnnotation] else { return [] }
        return [.snapshots(namespace: object.metadata.namespace ?? "", rollout: rollout)]
    }

    /// Pods: by namespace and pod-template hash.
    @Sendable static func pod(_ pod: Pod) -> [IndexKey] {
        [.podTemplateHash(namespace: pod.metadata.namespace ?? "", hash: pod.metadata.labels?[podTemplateHashLabel] ?? "")]
    }

    /// AnalysisRuns: by their controller owner (the Rollout).
    @Sendable static func analysisRun(_ run: AnalysisRun) -> [IndexKey] {
        controllerUID(run.metadata).map { [.controller(uid: $0)] } ?? []
    }

    /// Namespaced templates: by namespace.
    @Sendable static func template(_ t: AnalysisTemplate) -> [IndexKey] {
        [.namespace(t.metadata.namespace ?? "")]
    }
}
