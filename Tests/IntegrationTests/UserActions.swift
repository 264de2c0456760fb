import AviaryAPI
import Kube
import Rollouts

extension KubeClient {
    /// A user action, sent as `kubectl aviary` sends it: the Rollout read,
    /// then `UserAction`'s patches in order. The tests drive rollouts with
    /// this rather than with patches of their own, so they test what users do.
    @discardableResult
    func perform(_ action: UserAction, on name: String, namespace: String) async throws -> ActionPatches {
        let rollout: Rollout = try await get(Rollout.resource, name, namespace: namespace)
        var replicaSets: [ReplicaSet] = []
        if action.readsReplicaSets {
            let list: ObjectList<ReplicaSet> = try await self.list(.replicaSets, namespace: namespace, options: ListOptions(labelSelector: podTemplateHashLabel))
            replicaSets = list.items
        }
        let done = try action.patches(for: rollout, replicaSets: replicaSets).get()
        for p in done.patches {
            let _: JSONValue = try await patch(Rollout.resource, name, namespace: namespace, p.patch, subresource: p.subresource)
        }
        return done
    }
}
