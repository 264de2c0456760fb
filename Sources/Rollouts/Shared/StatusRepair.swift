import AviaryAPI
import KubeAPI

/// A Rollout's status is input as much as its spec: anyone allowed to write
/// `rollouts/status` (the plugin's users, for promote and abort) can write any
/// value there. Before a plan reads it, what cannot be right is repaired, in
/// this one place, and said in an event; nothing in it is ever used as an
/// index unchecked.
extension Reconcile {
    mutating func repairStatus() {
        var notes = old.repairs.value.map { "status.\($0) could not be read and is rewritten" }
        let steps = rollout.spec.strategy?.blueGreen == nil ? (rollout.spec.strategy?.canary?.steps ?? []).count : 0
        if let i = status.currentStepIndex, !(0...steps).contains(i) {
            let fixed = min(max(i, 0), steps)
            notes.append("status.currentStepIndex \(i) is outside the \(steps) steps; using \(fixed)")
            status.currentStepIndex = fixed
            if case .step? = update.position { update.position = .step(fixed) }
        }
        // A stable ReplicaSet that is missing or names nothing must not turn the
        // current template into stable without its steps while another
        // ReplicaSet still serves: the newest such one is stable. With none,
        // this is a first deploy.
        if old.stableRS.map({ hash in !owned.contains { $0.podTemplateHash == hash } }) ?? true {
            let current = template.map(PodTemplateHash.digest)
            let serving = owned.filter { ($0.templateDigest != current || current == nil) && $0.desiredReplicas > 0 }
                .sorted { ($0.revision ?? 0) > ($1.revision ?? 0) }
            if let stable = serving.first, let hash = stable.podTemplateHash {
                let said = old.stableRS.map { "status.stableRS \"\($0)\" names no ReplicaSet of this Rollout" } ?? "status.stableRS is missing"
                notes.append("\(said); using \(stable.metadata.name ?? hash), which still serves")
                status.stableRS = hash
            }
        }
        if status.abort == true, status.promoteFull == true {
            // UpdateState.apply keeps an abort over a promote-full; say so.
            notes.append("status.abort and status.promoteFull are both set; the abort wins")
        }
        guard !notes.isEmpty else { return }
        plan.event(.statusRepaired, notes.joined(separator: "; "), warning: true)
    }
}
