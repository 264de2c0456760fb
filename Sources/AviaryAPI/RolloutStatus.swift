import KubeAPI

/// Everything a Rollout has done so far. All progress lives here, so a
/// restarted controller continues where the last one stopped.
public struct RolloutStatus: Codable, Sendable, Hashable, StatusRepairs {
    public var observedGeneration: Int64?
    public var phase: RolloutPhase?
    public var message: String?
    /// The hash of spec.template: the ReplicaSet the rollout is moving to.
    public var currentPodHash: String?
    /// The hash of the ReplicaSet that serves as stable.
    public var stableRS: String?
    public var currentStepIndex: Int?
    /// A hash of the steps, so an edit to them restarts the steps.
    public var currentStepHash: String?
    public var pauseConditions: [PauseCondition]?
    /// True while a pause the controller added is in force: when a user (or the
    /// plugin) removes the pause conditions, the controller knows it was promoted.
    public var controllerPause: Bool?
    /// Set by a user (or the plugin) to abort; cleared by retry or a new full promotion.
    public var abort: Bool?
    public var abortedAt: KubeTime?
    /// Set by a user to skip all remaining steps.
    public var promoteFull: Bool?
    public var replicas: Int?
    public var updatedReplicas: Int?
    public var readyReplicas: Int?
    public var availableReplicas: Int?
    /// For the scale subresource (an HPA reads it).
    public var selector: String?
    public var canary: CanaryStatus?
    public var blueGreen: BlueGreenStatus?
    public var conditions: [RolloutCondition]?
    public var collisionCount: Int?
    public var restartedAt: KubeTime?
    /// Notifications owed and not yet sent (an outbox; see `NotificationLedger`).
    public var notifications: NotificationLedger?
    /// Fields that were present but unreadable, so the next write replaces them.
    public var repairs = Unrecorded<[String]>([])

    public init() {}

    enum CodingKeys: String, CodingKey {
        case observedGeneration, phase, message, currentPodHash, stableRS, currentStepIndex, currentStepHash, pauseConditions
        case controllerPause, abort, abortedAt, promoteFull, replicas, updatedReplicas, readyReplicas, availableReplicas
        case selector, canary, blueGreen, conditions, collisionCount, restartedAt, notifications
    }

    /// Field by field: what does not decode reads as absent (see `LenientReader`).
    public init(from decoder: Decoder) throws {
        var r = try LenientReader(decoder, CodingKeys.self)
        observedGeneration = r(.observedGeneration)
        phase = r(.phase)
        message = r(.message)
        currentPodHash = r(.currentPodHash)
        stableRS = r(.stableRS)
        currentStepIndex = r.count(.currentStepIndex)
        currentStepHash = r(.currentStepHash)
        pauseConditions = r.list(.pauseConditions)
        controllerPause = r(.controllerPause)
        abort = r(.abort)
        abortedAt = r(.abortedAt)
        promoteFull = r(.promoteFull)
        replicas = r.count(.replicas)
        updatedReplicas = r.count(.updatedReplicas)
        readyReplicas = r.count(.readyReplicas)
        availableReplicas = r.count(.availableReplicas)
        selector = r(.selector)
        canary = r(.canary)
        blueGreen = r(.blueGreen)
        conditions = r.list(.conditions)
        collisionCount = r.count(.collisionCount)
        restartedAt = r(.restartedAt)
        notifications = r(.notifications)
        repairs = Unrecorded(r.repaired)
    }

    public func condition(_ kind: RolloutCondition.Kind) -> RolloutCondition? {
        conditions?.first { $0.type == kind }
    }

    /// Sets a condition, keeping lastTransitionTime when its status is unchanged
    /// (and lastUpdateTime when nothing about it changed), so an unchanged world
    /// yields an unchanged status and no write.
    public mutating func setCondition(_ kind: RolloutCondition.Kind, _ status: Bool, reason: String, message: String, now: KubeTime) {
        var list = conditions ?? []
        var c = RolloutCondition(type: kind, status: status, reason: reason, message: message, now: now)
        if let i = list.firstIndex(where: { $0.type == kind }) {
            let old = list[i]
            if old.status == c.status { c.lastTransitionTime = old.lastTransitionTime }
            if old.status == c.status, old.reason == c.reason, old.message == c.message { c.lastUpdateTime = old.lastUpdateTime }
            list[i] = c
        } else {
            list.append(c)
        }
        conditions = list
    }

    public mutating func removeCondition(_ kind: RolloutCondition.Kind) {
        conditions?.removeAll { $0.type == kind }
        if conditions?.isEmpty == true { conditions = nil }
    }
}

public enum RolloutPhase: String, Codable, Sendable, Hashable {
    case Healthy, Progressing, Paused, Degraded
}

public struct PauseCondition: Codable, Sendable, Hashable {
    public enum Reason: String, Codable, Sendable, Hashable {
        case CanaryPauseStep, BlueGreenPause, InconclusiveAnalysisRun
        /// A metric with `onFailure: {notify, thenAbortAfter}` failed: held for the grace period.
        case AnalysisEscalation
    }

    public var reason: Reason
    public var startTime: KubeTime

    public init(reason: Reason, startTime: KubeTime) {
        self.reason = reason
        self.startTime = startTime
    }
}

public struct CanaryStatus: Codable, Sendable, Hashable {
    public struct Weights: Codable, Sendable, Hashable {
        public var canary: WeightDestination
        public var stable: WeightDestination
        /// Under a router: the route objects hold these weights (read back from them).
        public var verified: Bool?

        public init(canary: WeightDestination, stable: WeightDestination, verified: Bool? = nil) {
            self.canary = canary
            self.stable = stable
            self.verified = verified
        }
    }

    public struct WeightDestination: Codable, Sendable, Hashable {
        public var weight: Int
        public var podTemplateHash: String?
        /// Under a router: the Service (or subset) that receives this weight.
        public var serviceName: String?

        public init(weight: Int, podTemplateHash: String?, serviceName: String? = nil) {
            self.weight = weight
            self.podTemplateHash = podTemplateHash
            self.serviceName = serviceName
        }
    }

    public var weights: Weights?
    /// The AnalysisRun of the current analysis step, and what it said.
    public var currentStepAnalysisRunStatus: RolloutAnalysisRunStatus?
    /// The background AnalysisRun (strategy.canary.analysis), and what it said.
    public var currentBackgroundAnalysisRunStatus: RolloutAnalysisRunStatus?
    /// Under a router: the header and mirror routes in force, by name.
    public var managedRoutes: [String]?
    /// During a gradual rollback: the canary weight it has come down to, and since when.
    public var rollback: GradualRollbackStatus?

    public init(weights: Weights?) { self.weights = weights }
}

/// Where a gradual rollback stands (`abortStrategy.gradual`).
public struct GradualRollbackStatus: Codable, Sendable, Hashable {
    /// The canary weight in force now.
    public var weight: Int
    /// When that weight was set (it holds for the interval).
    public var since: KubeTime

    public init(weight: Int, since: KubeTime) {
        self.weight = weight
        self.since = since
    }
}

public struct RolloutCondition: Codable, Sendable, Hashable {
    public enum Kind: String, Codable, Sendable, Hashable {
        case InvalidSpec, Available, Progressing, ReplicaFailure, Paused, Completed, Healthy
    }

    public var type: Kind
    public var status: ConditionStatus
    public var reason: String
    public var message: String
    public var lastUpdateTime: KubeTime?
    public var lastTransitionTime: KubeTime?

    public init(type: Kind, status: Bool, reason: String, message: String, now: KubeTime) {
        self.type = type
        self.status = status ? .true : .false
        self.reason = reason
        self.message = message
        self.lastUpdateTime = now
        self.lastTransitionTime = now
    }
}

/// A Kubernetes condition's status, as the API spells it.
public enum ConditionStatus: String, Codable, Sendable, Hashable {
    case `true` = "True"
    case `false` = "False"
    case unknown = "Unknown"
}
