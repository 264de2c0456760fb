import AviaryAPI
import KubeAPI

/// What `aviary plan -f` prints for one Rollout. The rows are worked out by
/// the planner's `StepTimeline` (the command maps them in), so this module
/// stays free of the planner and its output is tested against golden text.
public enum PlanTable {
    public struct Row: Equatable, Sendable {
        public var step: Int
        public var kind: String
        public var canary: Int
        public var stable: Int
        public var weight: Int
        public var waits: String?

        public init(step: Int, kind: String, canary: Int, stable: Int, weight: Int, waits: String?) {
            self.step = step
            self.kind = kind
            self.canary = canary
            self.stable = stable
            self.weight = weight
            self.waits = waits
        }
    }

    public static func render(_ r: Rollout, rows: [Row]) -> String {
        let replicas = r.spec.effectiveReplicas
        if let bg = r.spec.strategy?.blueGreen {
            return "Rollout \(r.metadata.name ?? ""): blue-green, \(replicas) replicas; preview \(bg.previewReplicaCount ?? replicas), "
                + (bg.autoPromotionEnabled == false ? "promoted by hand" : bg.autoPromotionSeconds.map { "promoted after \($0)s" } ?? "promoted once available") + "\n"
        }
        let canary = r.spec.strategy?.canary ?? CanaryStrategy()
        var out = "Rollout \(r.metadata.name ?? ""): canary, \(replicas) replicas, \(rows.count) steps\n"
        // Without a router the header stays as it always was: the weights are the pod split.
        if canary.trafficRouting != nil { out += "Traffic: \(TrafficText.router(canary))\n" }
        if let abort = TrafficText.abortStrategy(canary) { out += "Abort: \(abort)\n" }
        let steps = canary.steps ?? []
        let routes = TrafficText.routesInForce(canary)
        let showRoutes = routes.contains { !$0.isEmpty }
        let max = TrafficText.maxWeight(canary)
        var table = [["STEP", "KIND", "CANARY", "STABLE", "WEIGHT"] + (showRoutes ? ["ROUTES"] : []) + ["WAITS"]]
        for row in rows {
            let i = row.step - 1
            let step = steps.indices.contains(i) ? steps[i] : nil
            let kind = step.flatMap { TrafficText.routeStep($0) ?? scale($0) } ?? row.kind
            let inForce = routes.indices.contains(i) ? routes[i].joined(separator: ", ") : ""
            table.append(["\(row.step)", kind, "\(row.canary)", "\(row.stable)", TrafficText.weight(row.weight, max: max)]
                         + (showRoutes ? [inForce] : []) + [row.waits ?? ""])
        }
        // Promotion removes the managed routes.
        table.append(["end", "promoted", "\(replicas)", "0", TrafficText.weight(max, max: max)] + (showRoutes ? [""] : []) + [""])
        return out + Table.render(table)
    }

    /// setCanaryScale with what it sets, since under a router pods and weight part ways.
    static func scale(_ step: CanaryStep) -> String? {
        guard case .setCanaryScale(let s) = step else { return nil }
        if let n = s.replicas { return "setCanaryScale \(n) \(n == 1 ? "pod" : "pods")" }
        if let w = s.weight { return "setCanaryScale \(w)% of pods" }
        return s.matchTrafficWeight == true ? "setCanaryScale matchTrafficWeight" : nil
    }
}
