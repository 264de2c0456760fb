import AviaryAPI
import KubeAPI

/// What `kubectl aviary list rollouts` prints.
public enum RolloutList {
    public static func render(_ rollouts: [Rollout], withNamespace: Bool) -> String {
        var rows = [(withNamespace ? ["NAMESPACE"] : []) + ["NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "READY", "DESIRED", "UP-TO-DATE", "AVAILABLE"]]
        for r in rollouts.sorted(by: { ($0.metadata.namespace ?? "", $0.metadata.name ?? "") < ($1.metadata.namespace ?? "", $1.metadata.name ?? "") }) {
            let canary = r.spec.strategy?.canary
            let steps = canary?.steps?.count ?? 0
            let status = r.status
            rows.append((withNamespace ? [r.metadata.namespace ?? ""] : []) + [
                r.metadata.name ?? "", canary != nil ? "Canary" : "BlueGreen", status?.phase?.rawValue ?? "Progressing",
                canary != nil ? "\(min(status?.currentStepIndex ?? 0, steps))/\(steps)" : "-",
                canary != nil ? "\(status?.canary?.weights?.canary.weight ?? 0)" : "-",
                "\(status?.readyReplicas ?? 0)/\(r.spec.effectiveReplicas)", "\(r.spec.effectiveReplicas)",
                "\(status?.updatedReplicas ?? 0)", "\(status?.availableReplicas ?? 0)",
            ])
        }
        return Table.render(rows)
    }
}

public enum Table {
    /// Columns padded to their widest cell, two spaces apart (kubectl's style).
    public static func render(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }
}

