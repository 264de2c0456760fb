import AviaryAPI
import KubeAPI

/// What a canary's steps will do, worked out without a cluster (`kubectl
/// aviary plan`): for each step, the pods on each side, the weight, and what
/// it waits for. The same split the planner uses, so the plan is what happens.
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
        let ctx = Context(view: RolloutView(rollout: rollout, replicaSets: [], services: [:], now: KubeTime(secondsSinceEpoch: 0)))
        return ctx.steps.enumerated().map { i, step in
            let split = ctx.targetSplit(at: i)
            var waits: String?
            if let pause = step.pause {
                waits = ((try? pause.seconds()) ?? nil).map { "\($0)s" } ?? "until promoted"
            } else if let analysis = step.analysis {
                waits = "analysis: " + (analysis.templates ?? []).map(\.templateName).joined(separator: ", ")
            }
            return Row(step: i + 1, kind: ctx.describe(step), canary: split.canary, stable: split.stable, weight: ctx.setWeight(at: i), waits: waits)
        }
    }
}
