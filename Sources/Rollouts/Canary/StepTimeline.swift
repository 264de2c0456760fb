import AviaryAPI
import KubeAPI

/// What a canary's steps will do, worked out without a cluster (`kubectl
/// aviary plan`): for each step, the pods on each side, the weight, and what
/// it waits for. The same targets the planner uses, so the plan is what happens.
public enum StepTimeline {
    public struct Row: Equatable, Sendable {
        public var step: Int
        public var kind: String
        public var canary: Int
        public var stable: Int
        public var weight: Int
        /// "5s", "until promoted", "analysis: success-rate, latency", or nil.
        public var waits: String?
    }

    public static func rows(_ rollout: Rollout) -> [Row] {
        let planner = CanaryPlanner(strategy: rollout.spec.strategy?.canary ?? CanaryStrategy(), replicas: rollout.spec.effectiveReplicas)
        return planner.steps.enumerated().map { i, step in
            let target = planner.target(at: i)
            var waits: String?
            switch step {
            case .pause(let pause): waits = ((try? pause.seconds()) ?? nil).map { "\($0)s" } ?? "until promoted"
            case .analysis(let analysis): waits = "analysis: " + (analysis.templates ?? []).map(\.templateName).joined(separator: ", ")
            default: break
            }
            return Row(step: i + 1, kind: planner.describe(step), canary: target.split.canary, stable: target.split.stable,
                       weight: planner.weight(at: i), waits: waits)
        }
    }
}
