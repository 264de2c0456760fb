import AviaryAPI
import Kube
import Rollouts

/// A user action as sent: what it meant on the Rollout (`UserAction.repeated`)
/// and what it wrote.
public struct PerformedAction: Sendable, Hashable {
    /// The action as performed (an abort of a gradual rollback is `abortNow`).
    public var action: UserAction
    public var patches: ActionPatches
    /// For undo: the revision gone back to.
    public var revision: Int? { patches.revision }
    /// "promoted", "rolled back to revision 3", …
    public var outcome: String { action.outcome(patches) }
}

extension KubeClient {
    /// A user action on one Rollout, as `kubectl aviary`, the dashboard and
    /// the tests all send it: the Rollout read, the action's meaning there
    /// (`repeated`), the namespace's ReplicaSets if it needs them (undo),
    /// then `UserAction`'s patches in order, with this client's identity.
    /// Throws `UserActionError` when the action cannot apply, `KubeError` when the API server refuses.
    @discardableResult
    public func perform(_ action: UserAction, on name: String, namespace: String, at now: KubeTime = KubeTime.now()) async throws -> PerformedAction {
        let rollout: Rollout = try await get(Rollout.resource, name, namespace: namespace)
        let action = action.repeated(on: rollout, at: now)
        var replicaSets: [ReplicaSet] = []
        if action.readsReplicaSets {
            let list: ObjectList<ReplicaSet> = try await self.list(.replicaSets, namespace: namespace, options: ListOptions(labelSelector: podTemplateHashLabel))
            replicaSets = list.items
        }
        let done = try action.patches(for: rollout, replicaSets: replicaSets).get()
        for p in done.patches {
            let _: JSONValue = try await patch(Rollout.resource, name, namespace: namespace, p.patch, subresource: p.subresource)
        }
        return PerformedAction(action: action, patches: done)
    }
}
