import AviaryAPI
import KubeAPI

/// What a canary adds to the lifecycle: a step machine. Each step says what
/// traffic should look like (`TrafficTarget`) or what to wait for (a pause,
/// an analysis run); the traffic layer moves the world, and the step is done
/// when the world is there. After the last step, and once the canary holds
/// every pod, it is promoted to stable.
struct CanaryPlanner: StrategyPlanner {
    let strategy: CanaryStrategy
    let steps: [CanaryStep]
    let replicas: Int
    let maxSurge: Int
    let maxUnavailable: Int
    let traffic: any TrafficRouting

    init(strategy: CanaryStrategy, replicas: Int) {
        self.strategy = strategy
        self.steps = strategy.steps ?? []
        self.replicas = replicas
        // Validation has refused a spec where these do not parse.
        maxSurge = (try? (strategy.maxSurge ?? CanaryStrategy.defaultMaxSurge).scaled(total: replicas, roundUp: true)) ?? 0
        maxUnavailable = (try? (strategy.maxUnavailable ?? CanaryStrategy.defaultMaxUnavailable).scaled(total: replicas, roundUp: false)) ?? 0
        traffic = ReplicaTraffic(canaryService: strategy.canaryService, stableService: strategy.stableService,
                                 replicas: replicas, maxSurge: maxSurge, maxUnavailable: maxUnavailable)
    }

    var stepsHash: String { PodTemplateHash.compute((try? JSONValue(encoding: steps)) ?? .null) }
    var start: UpdatePosition { .step(0) }
    var settledPosition: UpdatePosition? { .step(steps.count) }
    func skipped(from position: UpdatePosition?) -> UpdatePosition? { .step(steps.count) }
    func restarts(_ r: Reconcile) -> Bool { r.old.currentStepHash != stepsHash }

    func forgetRuns(_ r: inout Reconcile) {
        r.status.canary?.currentStepAnalysisRunStatus = nil
        r.status.canary?.currentBackgroundAnalysisRunStatus = nil
    }

    /// The step the update is at (clamped by the status repair).
    func index(_ r: Reconcile) -> Int {
        if case .step(let i)? = r.update.position { return i }
        return 0
    }

    // MARK: settled

    func settle(stable: ReplicaSet, _ r: inout Reconcile) {
        let hash = stable.podTemplateHash ?? ""  // every owned ReplicaSet carries the label: the caches select by it
        r.status.currentStepHash = stepsHash
        forgetRuns(&r)
        r.settleAnalysisRuns(current: [])
        traffic.settle(on: stable, &r)
        r.applyRoleMetadata(stable: stable, canary: nil, stableMetadata: strategy.stableMetadata, canaryMetadata: strategy.canaryMetadata)
        r.restartPods(of: stable, maxUnavailable: maxUnavailable)
        r.pruneHistory(keeping: [hash])
        r.status.removeCondition(.Paused)
        r.status.setCondition(.Completed, true, reason: "RolloutCompleted", message: "Rollout completed", now: r.now)
        let settled = r.available(stable) >= replicas && stable.desiredReplicas == replicas
            && r.others(except: [hash]).allSatisfy { ($0.status?.replicas ?? 0) == 0 && $0.desiredReplicas == 0 }
        guard settled else { return r.progress(rs: stable) }
        if r.old.phase != .Healthy {
            r.plan.event(.rolloutCompleted, "Rollout completed: revision \(stable.revision ?? 0) is stable with \(replicas) available pods")
        }
        r.status.setCondition(.Progressing, true, reason: "NewReplicaSetAvailable", message: "ReplicaSet \(stable.metadata.name ?? "") is available", now: r.now)
        r.setPhase(.Healthy, "")
    }

    // MARK: an update

    func advance(_ target: TemplateIdentity, stable: ReplicaSet, _ r: inout Reconcile) {
        let stableHash = stable.podTemplateHash ?? ""
        r.status.currentStepHash = stepsHash
        let canary = r.owned.first { $0.podTemplateHash == target.hash }
            ?? r.createReplicaSet(hash: target.hash, digest: target.digest, template: target.template, size: 0)

        if r.rollout.spec.paused != true {
            advanceSteps(canary: canary, stable: stable, hash: target.hash, &r)
        }
        backgroundAnalysis(hash: target.hash, &r)
        if r.update.isAborted {
            // An analysis failed just now: back to stable in this same plan.
            return abort(stable: stable, new: canary, &r)
        }
        let index = index(r)
        traffic.move(to: self.target(at: index), canary: canary, stable: stable, &r)

        // After the last step, and once the canary holds every pod: promote.
        if index >= steps.count, canary.desiredReplicas == replicas, r.available(canary) >= replicas {
            r.status.stableRS = target.hash
            r.plan.event(.rolloutPromoted, "Promoted ReplicaSet \(canary.metadata.name ?? "") (revision \(canary.revision ?? 0)) to stable")
            traffic.settle(on: canary, &r)
            r.update.finish(at: .step(index))
            r.settleAnalysisRuns(current: [])
            r.progress(rs: canary)
            r.plan.requeue(after: 0)
            return
        }
        r.settleAnalysisRuns(current: [r.status.canary?.currentStepAnalysisRunStatus?.name, r.status.canary?.currentBackgroundAnalysisRunStatus?.name].compactMap { $0 })
        r.applyRoleMetadata(stable: stable, canary: canary, stableMetadata: strategy.stableMetadata, canaryMetadata: strategy.canaryMetadata)
        r.restartPods(of: stable, maxUnavailable: maxUnavailable)
        r.pruneHistory(keeping: [target.hash, stableHash])
        r.status.removeCondition(.Completed)

        if r.rollout.spec.paused == true {
            r.status.setCondition(.Paused, true, reason: "RolloutPaused", message: "Rollout is paused (spec.paused)", now: r.now)
            r.status.setCondition(.Progressing, true, reason: "RolloutPaused", message: "Rollout is paused", now: r.now)
            r.setPhase(.Paused, "manually paused")
        } else if case .paused(let pause) = r.update.phase {
            r.status.setCondition(.Paused, true, reason: pause.reason.rawValue, message: "Rollout is paused at step \(index)", now: r.now)
            r.status.setCondition(.Progressing, true, reason: "RolloutPaused", message: "Rollout is paused", now: r.now)
            r.setPhase(.Paused, pause.reason.rawValue)
        } else if let waiting = awaitedStepRun(r) {
            // Analysis does not count against the progress deadline.
            r.status.removeCondition(.Paused)
            let message = "waiting for analysis run \(waiting.name) (\(waiting.status.rawValue)) at step \(index + 1)/\(steps.count)"
            r.status.setCondition(.Progressing, true, reason: "RolloutAnalysisRunning", message: message, now: r.now)
            r.setPhase(.Progressing, message)
        } else {
            r.status.removeCondition(.Paused)
            r.progress(rs: canary)
        }
    }

    // MARK: abort

    /// Stable back to full size at once, weight to stable; the canary waits
    /// out abortScaleDownDelaySeconds, and its pods leave only as stable's
    /// become available.
    func abort(stable: ReplicaSet, new canary: ReplicaSet?, _ r: inout Reconcile) {
        let abortedAt = r.beginAbort(revision: canary?.revision ?? 0)
        let delay = strategy.abortScaleDownDelaySeconds ?? CanaryStrategy.defaultAbortScaleDownDelaySeconds
        let canaryDeadline = abortedAt.secondsSinceEpoch + Int64(delay)
        let keepCanary = r.now.secondsSinceEpoch < canaryDeadline
        if keepCanary { r.plan.requeue(after: Double(canaryDeadline - r.now.secondsSinceEpoch)) }
        // The kept canary counts toward the total, so stable may surge back to full size.
        let split = ReplicaSplit(canary: keepCanary ? (canary?.desiredReplicas ?? 0) : 0, stable: replicas)
        traffic.move(to: TrafficTarget(weight: 0, split: split, canaryServiceOnStable: true), canary: canary, stable: stable, &r)
        r.endAbort(revision: canary?.revision ?? 0)
    }
}
