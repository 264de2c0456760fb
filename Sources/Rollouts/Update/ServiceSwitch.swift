import AviaryAPI
import KubeAPI

/// The one rule for pointing a Service at a ReplicaSet (by adding the hash
/// label to its selector), shared by the canary's stable/canary Services and
/// blue-green's active/preview Services:
/// - never at a ReplicaSet without available pods, or one this plan scales to zero;
/// - away from pods that still serve only to a ReplicaSet that can carry
///   `share` pods (so a switch never drops capacity below what the strategy allows);
/// - with no candidate that qualifies, the Service stays as it is;
/// - a later decision in the same plan replaces an earlier one, and every
///   switch comes before any scale-down in the plan.
extension Reconcile {
    /// Points `service` at the first qualifying candidate; returns the hash it selects after this plan.
    @discardableResult
    mutating func pointService(_ serviceName: String?, at candidates: [ReplicaSet], share: (ReplicaSet) -> Int) -> String? {
        guard let serviceName, let service = view.services[serviceName] else { return nil }
        let live = service.spec?.selector?[podTemplateHashLabel]
        let plannedIndex = plan.actions.firstIndex { if case .switchService(serviceName, _) = $0 { true } else { false } }
        var current = live
        if let plannedIndex, case .switchService(_, let planned) = plan.actions[plannedIndex] { current = planned }
        let currentServes = owned.first { $0.podTemplateHash == current }.map { available($0) > 0 } ?? false
        guard let target = candidates.first(where: { rs in
            guard plannedSize(rs) > 0, available(rs) > 0 else { return false }
            if currentServes, rs.podTemplateHash != current { return available(rs) >= share(rs) }
            return true
        }), let hash = target.podTemplateHash else { return current }
        guard hash != current else { return current }
        if let plannedIndex { plan.actions.remove(at: plannedIndex) }
        if live != hash {
            plan.actions.insert(.switchService(name: serviceName, podTemplateHash: hash), at: firstScaleDownIndex())
        }
        plan.event(.switchService, "Switched selector for service \(serviceName) to pod template hash \(hash)")
        return hash
    }
}
