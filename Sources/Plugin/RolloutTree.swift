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
        let r = input.rollout
        let s = r.status
        let paint = Paint(on: color)
        let canary = r.spec.strategy?.canary
        let stable = s?.stableRS, current = s?.currentPodHash
        var out = ""
        func field(_ k: String, _ v: String) { out += ((k + ":").padding(toLength: 16, withPad: " ", startingAt: 0) + v).trimmingTrailingSpaces() + "\n" }
        field("Name", r.metadata.name ?? "")
        field("Namespace", r.metadata.namespace ?? "")
        field("Status", paint.phase(phase(r)))
        if let m = s?.message, !m.isEmpty { field("Message", m) }
        if let canary {
            let steps = canary.steps?.count ?? 0
            field("Strategy", "Canary")
            field("  Traffic", TrafficText.router(canary))
            field("  Step", "\(min(s?.currentStepIndex ?? 0, steps))/\(steps)")
            if canary.trafficRouting != nil {
                // Set: what the steps ask for now; actual: what the controller put on the router, and whether it read it back.
                field("  SetWeight", "\(routedSetWeight(canary, s))")
                let weights = s?.canary?.weights
                let actual = current != nil && current == stable ? TrafficText.maxWeight(canary) : weights?.canary.weight ?? 0
                field("  ActualWeight", "\(actual)" + (weights == nil ? "" : weights?.verified == true ? " (verified)" : " (not verified yet)"))
                if let routes = s?.canary?.managedRoutes, !routes.isEmpty { field("  Routes", routes.joined(separator: ", ")) }
            } else {
                field("  SetWeight", "\(s?.canary?.weights?.canary.weight ?? 0)")
                let canaryAvail = input.replicaSets.first { $0.podTemplateHash == current }?.availableReplicas ?? 0
                let total = input.replicaSets.reduce(0) { $0 + $1.availableReplicas }
                // Aborted, no Service selects the canary's pods any more; completed, the canary is stable and serves all.
                let actual = s?.abort == true || total == 0 ? 0 : current == stable ? 100 : canaryAvail * 100 / total
                field("  ActualWeight", "\(actual)")
            }
            // With no router a gradual rollback moves replicas back the same way.
            if let rollback = TrafficText.rollback(canary, s) { field("  Rollback", rollback) }
        } else {
            field("Strategy", "BlueGreen")
            if let stage = s?.blueGreen?.stage { field("  Stage", stage.rawValue) }
        }
        let images = input.replicaSets.filter { $0.desiredReplicas > 0 || $0.podTemplateHash == current }
            .sorted { ($0.revision ?? 0) > ($1.revision ?? 0) }
            .map { "\(image($0)) (\(role($0, r)))" }
        field("Images", images.joined(separator: ", "))
        field("Replicas", "")
        field("  Desired", "\(r.spec.effectiveReplicas)")
        field("  Current", "\(s?.replicas ?? 0)")
        field("  Updated", "\(s?.updatedReplicas ?? 0)")
        field("  Ready", "\(s?.readyReplicas ?? 0)")
        field("  Available", "\(s?.availableReplicas ?? 0)")
        out += "\n"

        var rows: [[String]] = [["NAME", "KIND", "STATUS", "INFO"]]
        rows.append(["⟳ \(r.metadata.name ?? "")", "Rollout", paint.phase(phase(r)), ""])
        let revisions = input.replicaSets.sorted { ($0.revision ?? 0) > ($1.revision ?? 0) }
        for (i, rs) in revisions.enumerated() {
            let lastRevision = i == revisions.count - 1
            let branch = lastRevision ? "└──" : "├──", stem = lastRevision ? "   " : "│  "
            rows.append(["\(branch)# revision:\(rs.revision ?? 0)", "", "", ""])
            let pods = input.pods.filter { $0.metadata.labels?[podTemplateHashLabel] == rs.podTemplateHash }.sorted { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }
            let runs = input.runs.filter { $0.metadata.labels?[podTemplateHashLabel] == rs.podTemplateHash }.sorted { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }
            let children = pods.count + runs.count
            // One ReplicaSet per revision.
            rows.append(["\(stem)└──⧉ \(rs.metadata.name ?? "")", "ReplicaSet", paint.state(rsState(rs)),
                         [role(rs, r), rs.desiredReplicas > 0 ? "\(rs.availableReplicas)/\(rs.desiredReplicas) available" : ""].filter { !$0.isEmpty }.joined(separator: ", ")])
            var n = 0
            for pod in pods {
                n += 1
                let ready = pod.isReady
                rows.append(["\(stem)   \(n == children ? "└──" : "├──")□ \(pod.metadata.name ?? "")", "Pod",
                             paint.state(ready ? "✔ Running" : "◌ \(pod.status?.phase ?? "Pending")"), "ready:\(ready ? 1 : 0)/1"])
            }
            for run in runs {
                n += 1
                let rs = run.status?.runSummary
                let counts = "✔ \(rs?.successful ?? 0) ✖ \(rs?.failed ?? 0) ? \((rs?.inconclusive ?? 0) + (rs?.error ?? 0))"
                rows.append(["\(stem)   \(n == children ? "└──" : "├──")α \(run.metadata.name ?? "")", "AnalysisRun",
                             paint.state(runState(run)), [counts, run.status?.summary ?? ""].filter { !$0.isEmpty }.joined(separator: "  ")])
            }
        }
        let widths = (0..<4).map { c in rows.map { $0[c].visibleCount }.max() ?? 0 }
        for row in rows {
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
