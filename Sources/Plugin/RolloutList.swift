import AviaryAPI
import KubeAPI

/// What `kubectl aviary list rollouts` prints: the `RolloutRow`s the dashboard lists too.
public enum RolloutList {
    public static func render(_ rollouts: [Rollout], withNamespace: Bool) -> String {
        var rows = [(withNamespace ? ["NAMESPACE"] : []) + ["NAME", "STRATEGY", "STATUS", "STEP", "SET-WEIGHT", "READY", "DESIRED", "UP-TO-DATE", "AVAILABLE"]]
        for row in rollouts.map({ RolloutRow($0) }).sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }) {
            rows.append((withNamespace ? [row.namespace] : []) + [
                row.name, row.strategy, row.phase,
                row.stepCount.map { "\(row.step ?? 0)/\($0)" } ?? "-",
                row.setWeight.map(String.init) ?? "-",
                "\(row.ready)/\(row.desired)", "\(row.desired)", "\(row.updated)", "\(row.available)",
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

