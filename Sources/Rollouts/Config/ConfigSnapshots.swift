import AviaryAPI
import KubeAPI

/// The snapshots' lifecycle, decided with the rest of the plan:
/// - made before the ReplicaSet that names them (its pods must find them),
///   owned by the Rollout until then;
/// - then owned by every ReplicaSet whose template names them, so they go
///   when the last of those goes (history pruning, a deleted Rollout), by
///   Kubernetes' garbage collector;
/// - one that no ReplicaSet names and the template no longer needs (its
///   ReplicaSet was never made) is deleted here after a minute.
extension Reconcile {
    /// How long a snapshot nobody names is kept: a ReplicaSet being created names it soon.
    static let unusedSnapshotGrace = 60.0

    mutating func createSnapshots() {
        for spec in config.needed {
            plan.actions.append(.createConfigSnapshot(spec))
        }
    }

    mutating func tendSnapshots() {
        guard let view = view.config, !view.snapshots.isEmpty else { return }
        // What each existing ReplicaSet's template names (one made in this plan has no uid yet: next time).
        var users: [ConfigObjectRef: [OwnerReference]] = [:]
        for rs in owned {
            guard let uid = rs.metadata.uid, let name = rs.metadata.name, rs.metadata.deletionTimestamp == nil else { continue }
            let owner = OwnerReference(apiVersion: "apps/v1", kind: "ReplicaSet", name: name, uid: uid)
            for reference in ConfigReferences.find(in: rs.spec.template) where !users[reference.ref, default: []].contains(owner) {
                users[reference.ref, default: []].append(owner)
            }
        }
        let needed = Set(config.used)
        for snapshot in view.snapshots.sorted(by: { $0.ref < $1.ref }) {
            let owners = users[snapshot.ref] ?? []
            if !owners.isEmpty {
                if Set(owners.map(\.uid)) != Set(snapshot.ownerReferences.map(\.uid)) {
                    plan.actions.append(.setConfigSnapshotOwners(snapshot.ref, owners.sorted { $0.name < $1.name }))
                }
                continue
            }
            guard !needed.contains(snapshot.ref) else { continue }
            let age = snapshot.creationTimestamp.map { Double(now.secondsSinceEpoch) - Double($0.secondsSinceEpoch) } ?? .infinity
            if age >= Self.unusedSnapshotGrace {
                plan.actions.append(.deleteConfigSnapshot(snapshot.ref))
            } else {
                plan.requeue(after: Self.unusedSnapshotGrace - age)
            }
        }
    }
}
