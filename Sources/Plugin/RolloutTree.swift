import AviaryAPI
import KubeAPI

/// What `kubectl aviary get rollout` prints: a header, then the tree of
/// revisions → ReplicaSets (with their role) → pods, and AnalysisRuns with
/// their ✔/✖/? counts and each metric's latest value. Pure, so its output is
/// tested against golden text.
public enum RolloutTree {
    public struct Input: Sendable {
        public var rollout: Rollout
        public var replicaSets: [ReplicaSet]
        public var pods: [Pod]
        public var runs: [AnalysisRun]
        public init(rollout: Rollout, replicaSets: [ReplicaSet], pods: [Pod], runs: [AnalysisRun]) {
            self.rollout = rollout
            self.replicaSets = replicaSets
            self.pods = pods
            self.runs = runs
        }
    }

    public static func render(_ input: Input, color: Bool) -> String {
        render(RolloutSummary(input), color: color)
    }

    /// The text of a summary: the header, then the tree.
    public static func render(_ v: RolloutSummary, color: Bool) -> String {
        let paint = Paint(on: color)
        var out = ""
        func field(_ k: String, _ v: String) { out += ((k + ":").padding(toLength: 16, withPad: " ", startingAt: 0) + v).trimmingTrailingSpaces() + "\n" }
        let status = "\(v.icon) \(v.phase)"
        field("Name", v.name)
        field("Namespace", v.namespace)
        field("Status", paint.phase(status))
        if let m = v.message { field("Message", m) }
        field("Strategy", v.strategy)
        if v.strategy == "Canary" {
            field("  Traffic", v.traffic ?? "")
            field("  Step", "\(v.step ?? 0)/\(v.stepCount ?? 0)")
            field("  SetWeight", "\(v.setWeight ?? 0)")
            let verified = v.weightVerified.map { $0 ? " (verified)" : " (not verified yet)" } ?? ""
            field("  ActualWeight", "\(v.actualWeight ?? 0)" + (v.routed ? verified : ""))
            if !v.routes.isEmpty { field("  Routes", v.routes.joined(separator: ", ")) }
            // With no router a gradual rollback moves replicas back the same way.
            if let rollback = v.rollback { field("  Rollback", rollback) }
        } else if let stage = v.stage {
            field("  Stage", stage)
        }
        field("Images", v.images.map { "\($0.image) (\($0.role))" }.joined(separator: ", "))
        field("Replicas", "")
        field("  Desired", "\(v.replicas.desired)")
        field("  Current", "\(v.replicas.current)")
        field("  Updated", "\(v.replicas.updated)")
        field("  Ready", "\(v.replicas.ready)")
        field("  Available", "\(v.replicas.available)")
        out += "\n"

        var rows: [[String]] = [["NAME", "KIND", "STATUS", "INFO"]]
        rows.append(["⟳ \(v.name)", "Rollout", paint.phase(status), ""])
        let sets = v.revisions.flatMap { rev in rev.replicaSets.map { (rev.revision, $0) } }
        for (i, (revision, rs)) in sets.enumerated() {
            let lastRevision = i == sets.count - 1
            let branch = lastRevision ? "└──" : "├──", stem = lastRevision ? "   " : "│  "
            rows.append(["\(branch)# revision:\(revision)", "", "", ""])
            let runs = v.analysisRuns.filter { $0.podTemplateHash == rs.podTemplateHash }
            let children = rs.pods.count + runs.count
            // One ReplicaSet per revision.
            rows.append(["\(stem)└──⧉ \(rs.name)", "ReplicaSet", paint.state("\(rs.icon) \(rs.phase)"),
                         [rs.role, rs.desired > 0 ? "\(rs.available)/\(rs.desired) available" : ""].filter { !$0.isEmpty }.joined(separator: ", ")])
            // The configuration this ReplicaSet's pods mount: one line spanning the columns, so long names widen nothing.
            if let snapshots = rs.configSnapshots, !snapshots.isEmpty {
                rows.append(["\(stem)   \(children > 0 ? "│" : " ") config: " + snapshots.joined(separator: ", ")])
            }
            var n = 0
            for pod in rs.pods {
                n += 1
                rows.append(["\(stem)   \(n == children ? "└──" : "├──")□ \(pod.name)", "Pod",
                             paint.state("\(pod.icon) \(pod.phase)"), "ready:\(pod.ready ? 1 : 0)/1"])
            }
            for run in runs {
                n += 1
                let c = run.counts
                let counts = "✔ \(c.successful) ✖ \(c.failed) ? \(c.inconclusive + c.error)"
                rows.append(["\(stem)   \(n == children ? "└──" : "├──")α \(run.name)", "AnalysisRun",
                             paint.state("\(run.icon) \(run.phase)"), [counts, run.summary ?? ""].filter { !$0.isEmpty }.joined(separator: "  ")])
            }
        }
        let widths = (0..<4).map { c in rows.filter { $0.count == 4 }.map { $0[c].visibleCount }.max() ?? 0 }
        for row in rows {
            if row.count != 4 {
                out += row.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
                continue
            }
            out += row.enumerated().map { c, cell in cell + String(repeating: " ", count: widths[c] - cell.visibleCount) }
                .joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }
        return out
    }

    /// Under a router, the weight the steps ask for now (Argo's rule: the last
    /// setWeight at or before the current step; all once past the last step;
    /// on abort, where a gradual rollback has come down to, else 0).
    static func routedSetWeight(_ canary: CanaryStrategy, _ s: RolloutStatus?) -> Int {
        if s?.abort == true { return s?.canary?.rollback?.weight ?? 0 }
        let steps = canary.steps ?? []
        let index = max(0, s?.currentStepIndex ?? 0)
        if index >= steps.count || (s?.currentPodHash != nil && s?.currentPodHash == s?.stableRS) { return TrafficText.maxWeight(canary) }
        for step in steps[...index].reversed() { if case .setWeight(let w) = step { return w } }
        return 0
    }

    static func phase(_ r: Rollout) -> String {
        let observed = r.status?.observedGeneration == r.metadata.generation
        let p = observed ? (r.status?.phase ?? .Progressing) : .Progressing
        switch p {
        case .Healthy: return "✔ Healthy"
        case .Progressing: return "◌ Progressing"
        case .Paused: return "॥ Paused"
        case .Degraded: return "✖ Degraded"
        }
    }

    static func role(_ rs: ReplicaSet, _ r: Rollout) -> String {
        let hash = rs.podTemplateHash
        let bg = r.spec.strategy?.blueGreen != nil
        if hash == r.status?.stableRS { return bg ? "active" : "stable" }
        if hash == r.status?.currentPodHash { return bg ? "preview" : "canary" }
        return rs.desiredReplicas > 0 ? "old" : "scaled down"
    }

    static func rsState(_ rs: ReplicaSet) -> String {
        if rs.desiredReplicas == 0 { return "• ScaledDown" }
        return rs.availableReplicas >= rs.desiredReplicas ? "✔ Healthy" : "◌ Progressing"
    }

    static func runState(_ run: AnalysisRun) -> String {
        switch run.phase {
        case .Successful: return "✔ Successful"
        case .Failed: return "✖ Failed"
        case .Error: return "⚠ Error"
        case .Inconclusive: return "? Inconclusive"
        case .Running, .Pending: return "◌ \(run.phase.rawValue)"
        }
    }

    static func image(_ rs: ReplicaSet) -> String {
        guard case .array(let containers)? = rs.spec.template?["spec"]?["containers"] else { return "" }
        return containers.compactMap { $0["image"]?.stringValue }.joined(separator: ",")
    }
}

/// Colours for a terminal; none when off (not a TTY, or --no-color).
struct Paint {
    let on: Bool
    func wrap(_ s: String, _ code: String) -> String { on ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
    func phase(_ s: String) -> String { state(s) }
    func state(_ s: String) -> String {
        if s.hasPrefix("✔") { return wrap(s, "32") }
        if s.hasPrefix("✖") || s.hasPrefix("⚠") { return wrap(s, "31") }
        if s.hasPrefix("॥") || s.hasPrefix("?") { return wrap(s, "33") }
        return s
    }
}

extension String {
    /// Width on screen: colour codes take none.
    var visibleCount: Int {
        var n = 0, inEscape = false
        for ch in self {
            if ch == "\u{1B}" { inEscape = true; continue }
            if inEscape { if ch == "m" { inEscape = false }; continue }
            n += 1
        }
        return n
    }

    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
