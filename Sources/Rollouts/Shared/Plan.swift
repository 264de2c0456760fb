import AviaryAPI
import KubeAPI

/// What one reconcile decided: API calls in order, then the status to write.
/// The executor applies it; nothing here touches the network.
public struct Plan: Sendable, Equatable {
    public var actions: [Action] = []
    /// The status to write, when it differs from the one read.
    public var status: RolloutStatus
    /// Look again after this long even if nothing changes (a timed pause, a scale-down delay, the deadline).
    public var requeueAfter: Double?

    public init(status: RolloutStatus) { self.status = status }

    /// Waits are computed from user data (pauses, delays, deadlines), so they
    /// are clamped here, once: at least 50 ms, at most a day, never NaN.
    mutating func requeue(after seconds: Double) {
        let s = seconds.isNaN ? 0.05 : min(max(seconds, 0.05), 86_400)
        requeueAfter = requeueAfter.map { min($0, s) } ?? s
    }

    mutating func event(_ reason: EventReason, _ message: String, warning: Bool = false, trigger: String? = nil, run: String? = nil) {
        actions.append(.event(Event(reason: reason, message: message, warning: warning, trigger: trigger, run: run)))
    }
}

public enum Action: Sendable, Equatable {
    case createReplicaSet(ReplicaSet)
    case scaleReplicaSet(name: String, replicas: Int)
    /// Take an orphan that matches this Rollout: add our controller owner reference.
    case adoptReplicaSet(name: String, owner: OwnerReference)
    case deleteReplicaSet(name: String)
    /// Set (or, with nil, remove) annotations on a ReplicaSet (a blue-green scale-down deadline).
    case annotateReplicaSet(name: String, annotations: [String: String?])
    /// Recreate a pod (spec.restartAt): its ReplicaSet makes a new one.
    case deletePod(name: String)
    /// Set (or, with nil, remove) role labels and annotations on a ReplicaSet's
    /// pod template and on its existing pods, in place (canaryMetadata, stableMetadata).
    case setPodMetadata(replicaSet: String, pods: [String], labels: [String: String?], annotations: [String: String?])
    /// Point a Service at one ReplicaSet by adding the hash label to its selector.
    case switchService(name: String, podTemplateHash: String)
    /// Change a route object (VirtualService, DestinationRule, HTTPRoute) by
    /// JSON patch: only the fields the router owns, the first operation a
    /// `test` of the resourceVersion the plan read, so a concurrent edit
    /// fails the patch (409/422) and the next reconcile starts from the edit.
    case patchRoute(RouteRef, [JSONPatchOperation])
    case createAnalysisRun(AnalysisRun)
    /// Set spec.terminate: the run stops measuring and ends with what it has.
    case terminateAnalysisRun(name: String)
    case deleteAnalysisRun(name: String)
    /// Copy a ConfigMap or Secret into an immutable snapshot, if it still has the
    /// planned content (the executor reads it and checks the digest).
    case createConfigSnapshot(ConfigSnapshotSpec)
    /// Set a snapshot's owners to the ReplicaSets whose template names it.
    case setConfigSnapshotOwners(ConfigObjectRef, [OwnerReference])
    case deleteConfigSnapshot(ConfigObjectRef)
    case event(Event)
}

public struct Event: Sendable, Equatable {
    public var reason: EventReason
    public var message: String
    public var warning: Bool
    /// The notification trigger this event fires instead of its reason's built-in one
    /// (a metric's `onFailure: {notify: <trigger>}`).
    public var trigger: String?
    /// The AnalysisRun the event is about, when one decided it: notifications describe that run.
    public var run: String?

    public init(reason: EventReason, message: String, warning: Bool = false, trigger: String? = nil, run: String? = nil) {
        self.reason = reason
        self.message = message
        self.warning = warning
        self.trigger = trigger
        self.run = run
    }
}

extension ReplicaSet: Equatable {
    public static func == (a: ReplicaSet, b: ReplicaSet) -> Bool {
        a.metadata == b.metadata && a.spec == b.spec && a.status == b.status
    }
}

extension AnalysisRun: Equatable {
    public static func == (a: AnalysisRun, b: AnalysisRun) -> Bool {
        a.metadata == b.metadata && a.spec == b.spec && a.status == b.status
    }
}

extension OwnerReference {
    /// The controller reference a Rollout puts on what it owns.
    public static func controller(of rollout: Rollout) -> OwnerReference {
        OwnerReference(apiVersion: Rollout.apiVersion, kind: "Rollout", name: rollout.metadata.name ?? "",
                       uid: rollout.metadata.uid ?? "", controller: true, blockOwnerDeletion: true)
    }
}
