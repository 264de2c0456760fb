import AviaryAPI
import Foundation
import KubeAPI

/// The canary strategy: traffic follows pod counts (no traffic router) and
/// Service selectors; the step machine moves the canary through setWeight,
/// pause, setCanaryScale and analysis steps.
extension Context {
    mutating func settle(stable: ReplicaSet, stepsHash: String) {
        let hash = stable.podTemplateHash ?? ""  // every owned ReplicaSet carries the label: the caches select by it
        settled(stable, without: "steps")
        status.currentStepIndex = steps.count
        status.currentStepHash = stepsHash
        // Argo's convention: a completed canary is at weight 100 (canary and stable are one ReplicaSet).
        setWeights(canary: 100, hash, stable: 0, hash)
        status.canary?.currentStepAnalysisRunStatus = nil
        status.canary?.currentBackgroundAnalysisRunStatus = nil
        settleAnalysisRuns(current: [])
        scale(canary: nil, stable: stable, target: ReplicaSplit(canary: 0, stable: replicas))
        route(stableService: [stable], canaryService: [stable])
        applyRoleMetadata(stable: stable, canary: nil, stableMetadata: strategy.stableMetadata, canaryMetadata: strategy.canaryMetadata)
        restartPods(of: stable)
        pruneHistory(keeping: [hash])
        status.removeCondition(.Paused)
        let settled = available(stable) >= replicas && stable.desiredReplicas == replicas
            && others(except: [hash]).allSatisfy { ($0.status?.replicas ?? 0) == 0 && $0.desiredReplicas == 0 }
        if settled {
            if old.phase != .Healthy {
                plan.event(.rolloutCompleted, "Rollout completed: revision \(stable.revision ?? 0) is stable with \(replicas) available pods")
            }
            status.setCondition(.Progressing, true, reason: "NewReplicaSetAvailable", message: "ReplicaSet \(stable.metadata.name ?? "") is available", now: now)
            status.setCondition(.Completed, true, reason: "RolloutCompleted", message: "Rollout completed", now: now)
            setPhase(.Healthy, "")
        } else {
            progress(rs: stable)
            status.setCondition(.Completed, true, reason: "RolloutCompleted", message: "Rollout completed", now: now)
        }
    }

    mutating func canary(hash: String, digest: String, template: JSONValue, stable: ReplicaSet, stepsHash: String) {
        let stableHash = stable.podTemplateHash ?? ""  // every owned ReplicaSet carries the label: the caches select by it
        var canaryRS = owned.first { $0.podTemplateHash == hash }

        // A new template (or new steps) starts the steps again.
        if old.currentPodHash != hash || old.currentStepHash != stepsHash {
            status.currentStepIndex = 0
            status.pauseConditions = nil
            status.controllerPause = nil
            status.promoteFull = nil
            status.canary?.currentStepAnalysisRunStatus = nil
            status.canary?.currentBackgroundAnalysisRunStatus = nil
            if old.currentPodHash != hash {
                status.abort = nil
                status.abortedAt = nil
                plan.event(.rolloutUpdated, "Rollout updated to a new template (hash \(hash))")
                if let revision = rollbackTarget(hash: hash) {
                    status.promoteFull = true
                    plan.event(.rolloutRollback, "Rolling back to revision \(revision) within rollbackWindow: skipping steps and analysis")
                }
            }
        }
        status.currentStepHash = stepsHash

        if status.abort == true {
            abort(stable: stable, canary: canaryRS)
            return
        }
        if old.abortedAt != nil {
            // Retry: abort went back to false. The steps start over.
            status.abortedAt = nil
            status.currentStepIndex = 0
            status.pauseConditions = nil
            status.controllerPause = nil
            status.canary?.currentStepAnalysisRunStatus = nil
            status.canary?.currentBackgroundAnalysisRunStatus = nil
            plan.event(.rolloutRetry, "Retrying the update from the first step")
        }
        if status.promoteFull == true {
            status.currentStepIndex = steps.count
            status.pauseConditions = nil
            status.controllerPause = nil
        }

        if canaryRS == nil {
            let created = newReplicaSet(hash: hash, digest: digest, template: template, replicas: 0)
            plan.actions.append(.createReplicaSet(created))
            plan.event(.newReplicaSetCreated, "Created ReplicaSet \(created.metadata.name!) (revision \(created.revision ?? 0))")
            canaryRS = created
            owned.append(created)
        }
        let canary = canaryRS!

        if rollout.spec.paused != true {
            advanceSteps(canary: canary, stable: stable, hash: hash)
        }
        backgroundAnalysis(hash: hash)
        if status.abort == true {
            // An analysis failed just now: abort in this same plan.
            abort(stable: stable, canary: canary)
            return
        }
        let index = status.currentStepIndex ?? 0
        let target = targetSplit(at: index)
        let weight = index >= steps.count ? 100 : setWeight(at: index)
        setWeights(canary: weight, hash, stable: 100 - weight, stableHash)
        scale(canary: canary, stable: stable, target: target)

        // After the last step, and once the canary holds every pod: promote.
        if index >= steps.count, canary.desiredReplicas == replicas, available(canary) >= replicas {
            status.stableRS = hash
            plan.event(.rolloutPromoted, "Promoted ReplicaSet \(canary.metadata.name ?? "") (revision \(canary.revision ?? 0)) to stable")
            route(stableService: [canary], canaryService: [canary])
            status.promoteFull = nil
            status.abort = nil
            settleAnalysisRuns(current: [])
            progress(rs: canary)
            plan.requeue(after: 0)
            return
        }
        settleAnalysisRuns(current: [status.canary?.currentStepAnalysisRunStatus?.name, status.canary?.currentBackgroundAnalysisRunStatus?.name].compactMap { $0 })
        route(stableService: [stable, canary], canaryService: [canary, stable])
        applyRoleMetadata(stable: stable, canary: canary, stableMetadata: strategy.stableMetadata, canaryMetadata: strategy.canaryMetadata)
        restartPods(of: stable)
        pruneHistory(keeping: [hash, stableHash])
        status.removeCondition(.Completed)

        if rollout.spec.paused == true {
            status.setCondition(.Paused, true, reason: "RolloutPaused", message: "Rollout is paused (spec.paused)", now: now)
            status.setCondition(.Progressing, true, reason: "RolloutPaused", message: "Rollout is paused", now: now)
            setPhase(.Paused, "manually paused")
        } else if let pause = status.pauseConditions?.first {
            status.setCondition(.Paused, true, reason: pause.reason.rawValue, message: "Rollout is paused at step \(index)", now: now)
            status.setCondition(.Progressing, true, reason: "RolloutPaused", message: "Rollout is paused", now: now)
            setPhase(.Paused, pause.reason.rawValue)
        } else if let waiting = awaitedStepRun {
            // Analysis does not count against the progress deadline.
            status.removeCondition(.Paused)
            let message = "waiting for analysis run \(waiting.name) (\(waiting.status.rawValue)) at step \(index + 1)/\(steps.count)"
            status.setCondition(.Progressing, true, reason: "RolloutAnalysisRunning", message: message, now: now)
            setPhase(.Progressing, message)
        } else {
            status.removeCondition(.Paused)
            progress(rs: canary)
        }
    }

    // MARK: steps

    /// The weight of the last setWeight at or before `index`.
    func setWeight(at index: Int) -> Int {
        steps.prefix(min(index + 1, steps.count)).last { $0.setWeight != nil }?.setWeight ?? 0
    }

    /// The pod split the step at `index` wants. The last setCanaryScale at or
    /// before it sets the canary's size apart from the weight, until another
    /// setCanaryScale (matchTrafficWeight: true goes back to the weight).
    func targetSplit(at index: Int) -> ReplicaSplit {
        if index >= steps.count { return ReplicaSplit(canary: replicas, stable: 0) }
        let surge = (try? (strategy.maxSurge ?? CanaryStrategy.defaultMaxSurge).scaled(total: replicas, roundUp: true)) ?? 0
        var split = ReplicaSplit.forWeight(setWeight(at: index), replicas: replicas, maxSurge: surge)
        if let scale = steps.prefix(index + 1).last(where: { $0.setCanaryScale != nil })?.setCanaryScale {
            if let r = scale.replicas {
                split.canary = min(r, replicas)
            } else if let w = scale.weight {
                split.canary = (replicas * w + 99) / 100
            }
        }
        return split
    }

    /// Runs the step machine from the current step as far as it can go now.
    mutating func advanceSteps(canary: ReplicaSet, stable: ReplicaSet, hash: String) {
        while let index = status.currentStepIndex, index >= 0, index < steps.count {
            let step = steps[index]
            if let pause = step.pause {
                guard pauseIsOver(pause) else { return }
            } else if let analysis = step.analysis {
                guard stepAnalysisPassed(analysis, index: index, hash: hash) else { return }
            } else {
                // setWeight and setCanaryScale: done when the pods are there and available.
                guard reached(targetSplit(at: index), canary: canary, stable: stable) else { return }
            }
            status.currentStepIndex = index + 1
            plan.event(.rolloutStepCompleted, "Rollout step \(index + 1)/\(steps.count) completed (\(describe(step)))")
        }
    }

    /// A pause step: starts the pause the first time, ends it when its time is
    /// up or a user has promoted (removed the pause conditions we set).
    mutating func pauseIsOver(_ pause: PauseStep) -> Bool {
        let seconds = (try? pause.seconds()) ?? nil
        if let current = status.pauseConditions?.first(where: { $0.reason == .CanaryPauseStep }) {
            guard let seconds else { return false }
            let end = current.startTime.secondsSinceEpoch + Int64(seconds)
            if now.secondsSinceEpoch >= end {
                endPause()
                return true
            }
            plan.requeue(after: Double(end - now.secondsSinceEpoch))
            return false
        }
        if status.controllerPause == true {
            // We paused and the conditions are gone: promoted.
            endPause()
            return true
        }
        status.pauseConditions = (status.pauseConditions ?? []) + [PauseCondition(reason: .CanaryPauseStep, startTime: now)]
        status.controllerPause = true
        plan.event(.rolloutPaused, seconds.map { "Rollout paused for \($0)s at step \((status.currentStepIndex ?? 0) + 1)" }
            ?? "Rollout paused at step \((status.currentStepIndex ?? 0) + 1) until promoted")
        if let seconds { plan.requeue(after: Double(seconds)) }
        return false
    }

    mutating func endPause() {
        status.pauseConditions?.removeAll { $0.reason == .CanaryPauseStep }
        if status.pauseConditions?.isEmpty == true { status.pauseConditions = nil }
        status.controllerPause = nil
        plan.event(.rolloutResumed, "Rollout resumed")
    }

    func reached(_ target: ReplicaSplit, canary: ReplicaSet, stable: ReplicaSet) -> Bool {
        canary.desiredReplicas == target.canary && available(canary) >= target.canary
            && stable.desiredReplicas == target.stable && available(stable) >= target.stable
            && others(except: [canary.podTemplateHash ?? "", stable.podTemplateHash ?? ""]).allSatisfy { $0.desiredReplicas == 0 }
    }

    func describe(_ step: CanaryStep) -> String {
        if let w = step.setWeight { return "setWeight \(w)" }
        if let p = step.pause { return ((try? p.seconds()) ?? nil).map { "pause \($0)s" } ?? "pause" }
        if step.setCanaryScale != nil { return "setCanaryScale" }
        if step.analysis != nil { return "analysis" }
        return step.kinds.joined(separator: ",")
    }

    // MARK: abort

    mutating func abort(stable: ReplicaSet, canary: ReplicaSet?) {
        let abortedAt = beginAbort(revision: canary?.revision ?? 0)
        setWeights(canary: 0, canary?.podTemplateHash, stable: 100, stable.podTemplateHash)
        // Stable returns to full size at once; the canary waits out the abort delay.
        let delay = strategy.abortScaleDownDelaySeconds ?? CanaryStrategy.defaultAbortScaleDownDelaySeconds
        let canaryDeadline = abortedAt.secondsSinceEpoch + Int64(delay)
        let keepCanary = now.secondsSinceEpoch < canaryDeadline
        if keepCanary { plan.requeue(after: Double(canaryDeadline - now.secondsSinceEpoch)) }
        // Within the bounds: the kept canary counts toward the total, so stable may
        // surge back to full size; canary and older pods leave only as availability allows.
        scale(canary: canary, stable: stable, target: ReplicaSplit(canary: keepCanary ? (canary?.desiredReplicas ?? 0) : 0, stable: replicas))
        route(stableService: [stable, canary].compactMap { $0 }, canaryService: [stable, canary].compactMap { $0 })
        endAbort(revision: canary?.revision ?? 0)
    }

    // MARK: scaling and routing

    mutating func scale(canary: ReplicaSet?, stable: ReplicaSet, target: ReplicaSplit) {
        let surge = (try? (strategy.maxSurge ?? CanaryStrategy.defaultMaxSurge).scaled(total: replicas, roundUp: true)) ?? 1
        let unavailable = (try? (strategy.maxUnavailable ?? CanaryStrategy.defaultMaxUnavailable).scaled(total: replicas, roundUp: false)) ?? 0
        let keep = [stable.podTemplateHash ?? "", canary?.podTemplateHash ?? ""]
        let input = ScalingInput(
            replicas: replicas, maxSurge: surge, maxUnavailable: unavailable,
            canary: canary.map(current), stable: current(stable),
            others: others(except: keep).sorted { ($0.revision ?? 0) < ($1.revision ?? 0) }.map(current))
        for (rsName, size) in Scaling.step(input, target: target).sorted(by: { $0.key < $1.key }) {
            if let rs = owned.first(where: { $0.metadata.name == rsName }) { setSize(rs, size) }
        }
    }

    func current(_ rs: ReplicaSet) -> ScalingInput.Current {
        ScalingInput.Current(name: rs.metadata.name ?? "", replicas: rs.desiredReplicas, available: available(rs))
    }

    mutating func setSize(_ rs: ReplicaSet, _ size: Int) {
        let rsName = rs.metadata.name ?? ""
        plannedSizes[rsName] = size
        guard size != rs.desiredReplicas else { return }
        if let i = plan.actions.firstIndex(where: {
            if case .createReplicaSet(let c) = $0 { return c.metadata.name == rsName } else { return false }
        }), case .createReplicaSet(var created) = plan.actions[i] {
            created.spec.replicas = size
            plan.actions[i] = .createReplicaSet(created)
            return
        }
        plan.actions.append(.scaleReplicaSet(name: rsName, replicas: size))
        let verb = size > rs.desiredReplicas ? "up" : "down"
        plan.event(.scalingReplicaSet, "Scaled \(verb) ReplicaSet \(rsName) from \(rs.desiredReplicas) to \(size)")
    }

    /// Points the Services: each takes the first ReplicaSet of its list that
    /// has available pods and keeps pods in this plan. A Service is never
    /// pointed at a ReplicaSet without available pods; with no such candidate
    /// it stays as it is. The switches come before any scale-down in the plan.
    mutating func route(stableService stableCandidates: [ReplicaSet], canaryService canaryCandidates: [ReplicaSet]) {
        var switches: [Action] = []
        let unavailable = (try? (strategy.maxUnavailable ?? CanaryStrategy.defaultMaxUnavailable).scaled(total: replicas, roundUp: false)) ?? 0
        for (serviceName, candidates) in [(strategy.stableService, stableCandidates), (strategy.canaryService, canaryCandidates)] {
            guard let serviceName, let service = view.services[serviceName] else { continue }
            let currentHash = service.spec?.selector?[podTemplateHashLabel]
            let currentServes = owned.first { $0.podTemplateHash == currentHash }.map { available($0) > 0 } ?? false
            guard let target = candidates.first(where: { rs in
                let planned = plannedSizes[rs.metadata.name ?? "", default: rs.desiredReplicas]
                guard planned > 0, available(rs) > 0 else { return false }
                // Moving off pods that still serve: only to a side that can carry its share.
                if currentServes, rs.podTemplateHash != currentHash {
                    return available(rs) >= min(planned, max(1, replicas - unavailable))
                }
                return true
            }), let hash = target.podTemplateHash else { continue }
            if currentHash != hash {
                switches.append(.switchService(name: serviceName, podTemplateHash: hash))
                plan.event(.switchService, "Switched selector for service \(serviceName) to pod template hash \(hash)")
            }
        }
        plan.actions.insert(contentsOf: switches, at: firstScaleDownIndex())
    }

    func firstScaleDownIndex() -> Int {
        plan.actions.firstIndex { action in
            if case .scaleReplicaSet(let name, let size) = action {
                return size < (owned.first { $0.metadata.name == name }?.desiredReplicas ?? 0)
            }
            if case .event = action { return false }
            return false
        } ?? plan.actions.count
    }

}
