import AviaryAPI
import KubeAPI

/// What a strategy adds to the shared lifecycle. The lifecycle
/// (`RolloutPlanner`) decides which situation the Rollout is in, applies the
/// user's intents and the rollback window; a strategy says how to settle on
/// stable, how to move an update on, and how to go back.
protocol StrategyPlanner {
    /// Where a new or retried update begins.
    var start: UpdatePosition { get }
    /// Where promote-full takes an update from a position.
    func skipped(from position: UpdatePosition?) -> UpdatePosition?
    /// How many pods may be missing while restarting stable (spec.restartAt).
    var maxUnavailable: Int { get }
    /// Where the settled position is recorded (a canary at its last step; blue-green: nowhere).
    var settledPosition: UpdatePosition? { get }
    /// What is wrong with the objects the strategy writes besides ReplicaSets and Services (route objects).
    func problems(_ view: RolloutView) -> [String]
    /// Extra reasons to start the update over with the same template (a canary's steps changed).
    func restarts(_ r: Reconcile) -> Bool
    /// What the update forgets when it starts over: the analysis runs it waited on.
    func forgetRuns(_ r: inout Reconcile)

    /// Stable at full size and everything else drained.
    func settle(stable: ReplicaSet, _ r: inout Reconcile)
    /// Moves an update to `target` on as far as it can go now.
    func advance(_ target: TemplateIdentity, stable: ReplicaSet, _ r: inout Reconcile)
    /// Back to stable: `new` is the update's ReplicaSet, if it was made.
    func abort(stable: ReplicaSet, new: ReplicaSet?, _ r: inout Reconcile)
}

/// The Rollout's pod template and the hash that names it.
struct TemplateIdentity {
    var hash: String
    var digest: String
    var template: JSONValue
}

enum Strategies {
    /// The planner for this Rollout's strategy (canary when none is given, as in Argo).
    static func of(_ rollout: Rollout) -> any StrategyPlanner {
        let replicas = rollout.spec.effectiveReplicas
        if let bg = rollout.spec.strategy?.blueGreen { return BlueGreenPlanner(strategy: bg, replicas: replicas) }
        return CanaryPlanner(strategy: rollout.spec.strategy?.canary ?? CanaryStrategy(), replicas: replicas,
                             namespace: rollout.metadata.namespace ?? "")
    }
}
