/// Every reason a Rollout's events carry: the Kubernetes Event's `reason`,
/// what `kubectl get events` shows, and what notifications subscribe to. One enum, so a typo is a compile error and the list is in one place.
public enum EventReason: String, Sendable, Equatable, CaseIterable {
    // The template and its ReplicaSets
    case rolloutUpdated = "RolloutUpdated"
    case newReplicaSetCreated = "NewReplicaSetCreated"
    case scalingReplicaSet = "ScalingReplicaSet"
    case switchService = "SwitchService"
    /// Someone changed what the router owns in a route object; it was put back.
    case trafficRouteRestored = "TrafficRouteRestored"
    // The steps
    case rolloutStepCompleted = "RolloutStepCompleted"
    case rolloutPaused = "RolloutPaused"
    case rolloutResumed = "RolloutResumed"
    case rolloutPromoting = "RolloutPromoting"
    case rolloutPromoted = "RolloutPromoted"
    case rolloutCompleted = "RolloutCompleted"
    // Going back
    case rolloutAborted = "RolloutAborted"
    case rolloutRetry = "RolloutRetry"
    case rolloutRollback = "RolloutRollback"
    /// A gradual rollback moved traffic one step back toward stable.
    case rolloutRollingBack = "RolloutRollingBack"
    case progressDeadlineExceeded = "ProgressDeadlineExceeded"
    // Analysis
    case analysisRunRunning = "AnalysisRunRunning"
    case analysisRunSuccessful = "AnalysisRunSuccessful"
    case analysisRunFailed = "AnalysisRunFailed"
    case analysisRunError = "AnalysisRunError"
    case analysisRunInconclusive = "AnalysisRunInconclusive"
    // Restarts and repairs
    case restartingPod = "RestartingPod"
    case rolloutRestarted = "RolloutRestarted"
    case invalidSpec = "InvalidSpec"
    case statusRepaired = "StatusRepaired"
    /// A metric with `onFailure: {notify, thenAbortAfter}` failed: the update holds, people are told.
    case analysisEscalated = "AnalysisEscalated"
    // Delivery
    case notificationFailed = "NotificationFailed"

    /// The built-in notification trigger this reason fires, named as Argo names them.
    public var builtInTrigger: String? {
        switch self {
        case .rolloutUpdated: "on-rollout-updated"
        case .rolloutStepCompleted: "on-rollout-step-completed"
        case .rolloutPaused: "on-rollout-paused"
        case .rolloutCompleted: "on-rollout-completed"
        case .rolloutAborted: "on-rollout-aborted"
        case .analysisRunRunning: "on-analysis-run-running"
        case .analysisRunFailed: "on-analysis-run-failed"
        case .analysisRunError: "on-analysis-run-error"
        case .scalingReplicaSet: "on-scaling-replica-set"
        default: nil
        }
    }
}
