import AviaryAPI
import KubeAPI

extension RolloutReport {
    /// A short summary of why a Rollout's update was aborted, for the
    /// on-rollout-aborted notification: at most four lines of plain text
    /// (each at most about 400 characters), no events needed.
    ///
    /// - Line 1: the Rollout, the new version (its images and pod-template
    ///   hash) and the stable one it went back to.
    /// - Line 2: the trigger: the analysis run and metric that failed, its
    ///   measured values, the condition and the failure count against its
    ///   limit; or a progress deadline, or a user's abort.
    /// - Line 3: how long the new version had traffic and at what weight
    ///   (the most the canary steps reached; at least from the update's first
    ///   analysis run to the abort).
    /// - Line 4: where to look next (`kubectl aviary report`).
    ///
    /// Pure and total: any Rollout (aborted or not) and any runs give text,
    /// never a trap. Only runs of the Rollout's current pod-template hash count.
    ///
    /// - Parameters:
    ///   - rollout: the Rollout as it is now (status.currentPodHash, stableRS, abortedAt, currentStepIndex are read).
    ///   - analysisRuns: the Rollout's AnalysisRuns (others' are ignored by their hash label).
    ///   - now: the time, for an abort without status.abortedAt.
    public static func brief(rollout: Rollout, analysisRuns: [AnalysisRun], now: KubeTime) -> String {
        let s = rollout.status
        let name = clipped("\(rollout.metadata.namespace.map { $0 + "/" } ?? "")\(rollout.metadata.name ?? "?")", 320)
        let hash = s?.currentPodHash ?? ""
        let images = templateImages(rollout.spec.template)
        let newVersion = (images.isEmpty ? "the new template" : images.joined(separator: ", ")) + (hash.isEmpty ? "" : " (pod template hash \(clipped(hash, 63)))")
        let stable = s?.stableRS.map { "stable \(clipped($0, 63))" } ?? "the stable version"
        var lines: [String] = []
        let aborted = s?.abort == true || s?.abortedAt != nil
        lines.append("Rollout \(name) \(aborted ? "aborted the update to" : "is updating to") \(newVersion); traffic \(aborted ? "went back" : "falls back") to \(stable).")

        let runs = analysisRuns.prefix(maxRuns * 4).filter { !hash.isEmpty && $0.metadata.labels?[podTemplateHashLabel] == hash }
        let failed = runs.filter { $0.phase == .Failed || $0.phase == .Error }
            .min { ($0.status?.completedAt?.secondsSinceEpoch ?? Int64.max) < ($1.status?.completedAt?.secondsSinceEpoch ?? Int64.max) }
        if let failed {
            let t = trigger(failed)
            var line = "Trigger: \(t.cause)"
            if !t.values.isEmpty { line += ", measured \(t.values.suffix(5).joined(separator: ", "))" }
            if let c = t.condition { line += "; \(c)" }
            if let counts = ReportText.counts(t) { line += "; \(counts)" }
            lines.append(clipped(line + ".", 600))
        } else if s?.condition(.Progressing)?.reason == "ProgressDeadlineExceeded" {
            lines.append(clipped("Trigger: progress deadline exceeded: \(s?.condition(.Progressing)?.message ?? "")", 600))
        } else if aborted {
            lines.append("Trigger: aborted by a user (status.abort), not by analysis.")
        } else if let m = s?.message, !m.isEmpty {
            lines.append(clipped("Status: \(m)", 600))
        }

        let weight = rollout.spec.strategy?.canary.map { maxWeight($0, through: s?.currentStepIndex) } ?? 0
        let first = runs.compactMap(runStart).min()
        let end = s?.abortedAt ?? now
        let who = images.first.map { clipped($0, 200) } ?? "The new version"
        if rollout.spec.strategy?.canary == nil {
            lines.append("Traffic: \(who) had no production traffic (blue-green preview).")
        } else if weight == 0 {
            lines.append("Traffic: \(who) reached no traffic weight.")
        } else if let seconds = span(first, end) {
            lines.append("Traffic: \(who) had up to \(weight)% of the traffic for at least \(ReportText.duration(seconds)) (from its first analysis run to the abort).")
        } else {
            lines.append("Traffic: \(who) had up to \(weight)% of the traffic.")
        }
        if let n = rollout.metadata.name {
            let ns = rollout.metadata.namespace.map { " -n \(clipped($0, 63))" } ?? ""
            lines.append("Details: kubectl aviary report \(clipped(n, 253))\(ns)")
        }
        return lines.joined(separator: "\n")
    }

    /// The images of a pod template's containers (at most ten).
    static func templateImages(_ template: JSONValue?) -> [String] {
        guard case .array(let containers)? = template?["spec"]?["containers"] else { return [] }
        return containers.prefix(10).compactMap { $0["image"]?.stringValue }.map { clipped($0, 200) }
    }
}
