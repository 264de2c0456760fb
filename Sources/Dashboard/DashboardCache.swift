import AviaryAPI
import Controller
import Foundation
import Kube
import Logging
import Plugin
import Rollouts

/// What the API answers from: Rollouts and their families, and events. A
/// protocol so the routes are tested without a cluster.
public protocol DashboardSource: Sendable {
    func rollouts() -> [Rollout]
    func rollout(namespace: String, name: String) -> Rollout?
    /// The Rollout's ReplicaSets, pods and AnalysisRuns, by the controller's ownership rule.
    func family(of rollout: Rollout) -> Ownership.Family
    /// Events about this Rollout.
    func events(of rollout: Rollout) -> [ReportEvent]
    /// Whether the Rollouts have been listed once (before that, an empty list would be a lie).
    var hasSynced: Bool { get }
    /// What to tell a viewer whose list is empty because of what they may read (in-cluster mode), or nil.
    var emptyMessage: String? { get }
}

extension DashboardSource {
    public var hasSynced: Bool { true }
    public var emptyMessage: String? { nil }
}

/// A core/v1 Event with its metadata, so an informer can key it; the rest
/// is read as `ReportEvent` reads it (every field on its own).
public struct DashboardEvent: KubeObject, Decodable {
    public var metadata: ObjectMeta
    public var event: ReportEvent

    enum Keys: String, CodingKey { case metadata }

    public init(from decoder: Decoder) throws {
        metadata = try decoder.container(keyedBy: Keys.self).decode(ObjectMeta.self, forKey: .metadata)
        event = try ReportEvent(from: decoder)
    }

    /// Never written back; an informer's type must be Encodable too.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(metadata, forKey: .metadata)
    }
}

/// One set of informers per dashboard process, whatever the number of
/// pages open: the API reads these caches and never the API server, and
/// every change is published to the `ChangeFeed` as the Rollout it concerns.
public final class DashboardCache: DashboardSource, Sendable {
    let rolloutInformer: Informer<Rollout>
    let replicaSets: Informer<ReplicaSet>
    let pods: Informer<Pod>
    let runs: Informer<AnalysisRun>
    let eventInformer: Informer<DashboardEvent>
    public let feed: ChangeFeed

    /// - Parameter namespace: nil for every namespace the kubeconfig may list.
    public init(client: KubeClient, namespace: String?, feed: ChangeFeed, logger: Logger) {
        self.feed = feed
        let byNamespace: @Sendable (any KubeObject) -> [IndexKey] = { [.namespace($0.metadata.namespace ?? "")] }
        rolloutInformer = Informer(Reflector(client: client, resource: Rollout.resource, namespace: namespace, logger: logger),
                                   index: { byNamespace($0) }, logger: logger)
        // Only what carries the hash label, as the controller: never the cluster's other ReplicaSets and pods.
        replicaSets = Informer(Reflector(client: client, resource: .replicaSets, namespace: namespace, labelSelector: podTemplateHashLabel, logger: logger),
                               index: { byNamespace($0) }, logger: logger)
        pods = Informer(Reflector(client: client, resource: .pods, namespace: namespace, labelSelector: podTemplateHashLabel, logger: logger),
                        index: { byNamespace($0) }, logger: logger)
        runs = Informer(Reflector(client: client, resource: AnalysisRun.resource, namespace: namespace, logger: logger),
                        index: { byNamespace($0) }, logger: logger)
        eventInformer = Informer(Reflector(client: client, resource: .events, namespace: namespace, fieldSelector: "involvedObject.kind=Rollout", logger: logger),
                                 index: { e in [.namespace(e.metadata.namespace ?? "")] }, logger: logger)
        rolloutInformer.onChange { [feed] old, new in
            guard let r = new ?? old else { return }
            feed.publish(ObjectKey(r.metadata))
        }
        replicaSets.onChange { [feed] old, new in
            guard let rs = new ?? old, let key = Self.owner(rs.metadata) else { return }
            feed.publish(key)
        }
        pods.onChange { [feed, replicaSets] old, new in
            // A pod → its ReplicaSet (its owner) → the Rollout.
            guard let pod = new ?? old,
                  let owner = pod.metadata.ownerReferences?.first(where: { $0.controller == true && $0.kind == "ReplicaSet" }),
                  let rs = replicaSets.get(namespace: pod.metadata.namespace, name: owner.name),
                  let key = Self.owner(rs.metadata) else { return }
            feed.publish(key)
        }
        runs.onChange { [feed] old, new in
            guard let run = new ?? old, let key = Self.owner(run.metadata) else { return }
            feed.publish(key)
        }
        eventInformer.onChange { [feed] old, new in
            guard let e = new ?? old, let o = e.event.involvedObject, o.kind == "Rollout", let name = o.name else { return }
            feed.publish(ObjectKey(namespace: o.namespace ?? e.metadata.namespace, name: name))
        }
    }

    /// The Rollout that controls an object, if one does.
    static func owner(_ meta: ObjectMeta) -> ObjectKey? {
        guard let o = meta.ownerReferences?.first(where: { $0.controller == true }), o.kind == "Rollout" else { return nil }
        return ObjectKey(namespace: meta.namespace, name: o.name)
    }

    /// Runs the informers and the feed until cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.rolloutInformer.run() }
            group.addTask { await self.replicaSets.run() }
            group.addTask { await self.pods.run() }
            group.addTask { await self.runs.run() }
            group.addTask { await self.eventInformer.run() }
            group.addTask { await self.feed.run() }
        }
    }

    /// The Rollouts' cache has its first list (the others fill in as they can: the caller's RBAC may not allow them all).
    public var hasSynced: Bool { rolloutInformer.hasSynced }

    public func waitForSync() async throws { try await rolloutInformer.waitForSync() }

    public func rollouts() -> [Rollout] { rolloutInformer.all() }

    public func rollout(namespace: String, name: String) -> Rollout? { rolloutInformer.get(namespace: namespace, name: name) }

    public func family(of rollout: Rollout) -> Ownership.Family {
        let ns = IndexKey.namespace(rollout.metadata.namespace ?? "")
        return Ownership.family(of: rollout, replicaSets: replicaSets.byIndex(ns), pods: pods.byIndex(ns), analysisRuns: runs.byIndex(ns))
    }

    public func events(of rollout: Rollout) -> [ReportEvent] {
        eventInformer.byIndex(.namespace(rollout.metadata.namespace ?? "")).map(\.event)
            .filter { $0.concerns("Rollout", name: rollout.metadata.name ?? "", uid: rollout.metadata.uid) }
    }
}
