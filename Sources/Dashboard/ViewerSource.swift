import AviaryAPI
import Kube
import Plugin
import Rollouts

/// The dashboard's caches as one viewer may see them: only the Rollouts in
/// the namespaces their RBAC lets them list (decided beforehand, by
/// `ViewerGate`). Families and events follow their Rollout.
struct ViewerSource: DashboardSource {
    let base: any DashboardSource
    let namespaces: Set<String>
    let viewer: Viewer

    func rollouts() -> [Rollout] { base.rollouts().filter { namespaces.contains($0.metadata.namespace ?? "") } }

    func rollout(namespace: String, name: String) -> Rollout? {
        namespaces.contains(namespace) ? base.rollout(namespace: namespace, name: name) : nil
    }

    func family(of rollout: Rollout) -> Ownership.Family { base.family(of: rollout) }
    func events(of rollout: Rollout) -> [ReportEvent] { base.events(of: rollout) }
    var hasSynced: Bool { base.hasSynced }

    var emptyMessage: String? {
        namespaces.isEmpty
            ? "\(viewer.username) may not list rollouts.aviary.dev in any namespace that has Rollouts; "
                + "ask a cluster admin for a RoleBinding that allows it (`kubectl auth can-i list rollouts.aviary.dev -n NAMESPACE --as \(viewer.username)`)"
            : nil
    }
}
