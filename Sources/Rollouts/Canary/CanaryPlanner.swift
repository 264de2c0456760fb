import AviaryAPI
import Foundation
import Kube

/// The canary strategy as one pure function: what the cluster looks like now
/// → which API calls to make and what the status becomes. Traffic follows pod
/// counts (no traffic router) and Service selectors.
///
/// The Rollout is in one of three situations:
/// 1. **First deploy** (no stable ReplicaSet yet): the template goes straight
///    to stable at full size, without steps.
/// 2. **Settled** (the template is the stable one): stable at full size, every
///    other ReplicaSet drained. Reverting the template to stable's lands here
///    at once: that is the fast rollback.
/// 3. **Canary** (a new template): the step machine moves the canary through
///    the steps; abort, retry, promote, promote-full and the deadline act here.
public enum CanaryPlanner {
    public static func plan(_ view: RolloutView) -> Plan {
        var ctx = Context(view: view)
        ctx.run()
        return ctx.finish()
    }
}

/// One reconcile's working state. Only `CanaryPlanner.plan` creates it.
struct Context {
    let view: RolloutView
    let rollout: Rollout
    let old: RolloutStatus
    var status: RolloutStatus
    var plan: Plan
    let now: KubeTime
    let replicas: Int
    let steps: [CanaryStep]
    let strategy: CanaryStrategy
    var owned: [ReplicaSet] = []
    /// Sizes decided in this plan, by ReplicaSet name, for what the Services may select.
    var plannedSizes: [String: Int] = [:]

    init(view: RolloutView) {
        self.view = view
        rollout = view.rollout
        old = rollout.status ?? RolloutStatus()
        status = old
        plan = Plan(status: old)
        now = view.now
        replicas = rollout.spec.effectiveReplicas
        strategy = rollout.spec.strategy?.canary ?? CanaryStrategy()
        steps = strategy.steps ?? []
    }

    var name: String { rollout.metadata.name ?? "" }

    mutating func run() {
        status.observedGeneration = rollout.metadata.generation
        status.selector = rollout.spec.selector?.queryString
        adoptOrphans()
        // The template's identity, worked out once per reconcile.
        let template = rollout.spec.template
        let digest = template.map(PodTemplateHash.digest)
        let collisions = status.collisionCount ?? 0
        // A ReplicaSet already made from this template keeps its hash, whatever the collision count is now.
        let hash = owned.first { digest != nil && $0.templateDigest == digest }?.podTemplateHash
            ?? template.map { PodTemplateHash.compute($0, collisionCount: collisions) }
        countReplicas(currentHash: hash)

        let problems = Validation.problems(rollout, services: view.services, templates: view.templates)
        if !problems.isEmpty {
            let message = problems.joined(separator: "; ")
            if old.condition(.InvalidSpec)?.message != message { plan.event("InvalidSpec", message, warning: true) }
            status.setCondition(.InvalidSpec, true, reason: "InvalidSpec", message: message, now: now)
            status.phase = .Degraded
            status.message = "InvalidSpec: \(message)"
            return
        }
        status.removeCondition(.InvalidSpec)

        guard let template, let digest, let hash else { return }
        if let clash = owned.first(where: { $0.podTemplateHash == hash }), let d = clash.templateDigest, d != digest {
            // Another template already has this hash: count the collision and hash again next time.
            status.collisionCount = collisions + 1
            plan.requeue(after: 0)
            return
        }
        status.currentPodHash = hash
        let stepsHash = PodTemplateHash.compute(try! JSONValue(encoding: steps))

        guard let stableHash = old.stableRS, let stable = owned.first(where: { $0.podTemplateHash == stableHash }) else {
            firstDeploy(hash: hash, digest: digest, template: template, stepsHash: stepsHash)
            return
        }
        if stableHash == hash {
            settle(stable: stable, stepsHash: stepsHash)
        } else {
            canary(hash: hash, digest: digest, template: template, stable: stable, stepsHash: stepsHash)
        }
    }

    // MARK: the three situations

    mutating func firstDeploy(hash: String, digest: String, template: JSONValue, stepsHash: String) {
        var rs = owned.first { $0.podTemplateHash == hash }
        if rs == nil {
            let created = newReplicaSet(hash: hash, digest: digest, template: template, replicas: replicas)
            plan.actions.append(.createReplicaSet(created))
            plan.event("NewReplicaSetCreated", "Created ReplicaSet \(created.metadata.name!) (revision \(created.revision ?? 1)) with size \(replicas)")
            rs = created
            owned.append(created)
        }
        status.stableRS = hash
        status.currentStepIndex = steps.count
        status.currentStepHash = stepsHash
        settle(stable: rs!, stepsHash: stepsHash)
    }

    mutating func settle(stable: ReplicaSet, stepsHash: String) {
        let hash = stable.podTemplateHash!
        if old.currentPodHash != nil, old.currentPodHash != hash, old.stableRS == hash {
            plan.event("RolloutUpdated", "Rolled back to the stable template (revision \(stable.revision ?? 0)) without steps")
        }
        // A settled rollout has nothing left to abort, pause or promote.
        status.abort = nil
        status.abortedAt = nil
        status.promoteFull = nil
        status.pauseConditions = nil
        status.controllerPause = nil
        status.currentStepIndex = steps.count
        status.currentStepHash = stepsHash
        setWeights(canary: 0, hash, stable: 100, hash)
        status.canary?.currentStepAnalysisRunStatus = nil
        status.canary?.currentBackgroundAnalysisRunStatus = nil
        settleAnalysisRuns(current: [])
        scale(canary: nil, stable: stable, target: ReplicaSplit(canary: 0, stable: replicas))
        route(stableService: [stable], canaryService: [stable])
        applyRoleMetadata(stable: stable, canary: nil)
        restartPods(of: stable)
        pruneHistory(keeping: [hash])
        status.removeCondition(.Paused)
        let settled = available(stable) >= replicas && stable.desiredReplicas == replicas
            && others(except: [hash]).allSatisfy { ($0.status?.replicas ?? 0) == 0 && $0.desiredReplicas == 0 }
        if settled {
            if old.phase != .Healthy {
                plan.event("RolloutCompleted", "Rollout completed: revision \(stable.revision ?? 0) is stable with \(replicas) available pods")
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
        let stableHash = stable.podTemplateHash!
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
                plan.event("RolloutUpdated", "Rollout updated to a new template (hash \(hash))")
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
            plan.event("RolloutRetry", "Retrying the update from the first step")
        }
        if status.promoteFull == true {
            status.currentStepIndex = steps.count
            status.pauseConditions = nil
            status.controllerPause = nil
        }

        if canaryRS == nil {
            let created = newReplicaSet(hash: hash, digest: digest, template: template, replicas: 0)
            plan.actions.append(.createReplicaSet(created))
            plan.event("NewReplicaSetCreated", "Created ReplicaSet \(created.metadata.name!) (revision \(created.revision ?? 0))")
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
            plan.event("RolloutPromoted", "Promoted ReplicaSet \(canary.metadata.name ?? "") (revision \(canary.revision ?? 0)) to stable")
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
        applyRoleMetadata(stable: stable, canary: canary)
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
        while let index = status.currentStepIndex, index < steps.count {
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
            plan.event("RolloutStepCompleted", "Rollout step \(index + 1)/\(steps.count) completed (\(describe(step)))")
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
        plan.event("RolloutPaused", seconds.map { "Rollout paused for \($0)s at step \((status.currentStepIndex ?? 0) + 1)" }
            ?? "Rollout paused at step \((status.currentStepIndex ?? 0) + 1) until promoted")
        if let seconds { plan.requeue(after: Double(seconds)) }
        return false
    }

    mutating func endPause() {
        status.pauseConditions?.removeAll { $0.reason == .CanaryPauseStep }
        if status.pauseConditions?.isEmpty == true { status.pauseConditions = nil }
        status.controllerPause = nil
        plan.event("RolloutResumed", "Rollout resumed")
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
        let abortedAt = old.abortedAt ?? now
        if old.abortedAt == nil {
            plan.event("RolloutAborted", abortMessage(revision: canary?.revision ?? 0), warning: true)
        }
        status.abortedAt = abortedAt
        status.pauseConditions = nil
        status.controllerPause = nil
        status.promoteFull = nil
        let stableHash = stable.podTemplateHash!
        setWeights(canary: 0, canary?.podTemplateHash, stable: 100, stableHash)
        settleAnalysisRuns(current: [])
        // Stable returns to full size at once; the canary waits out the abort delay.
        let delay = strategy.abortScaleDownDelaySeconds ?? CanaryStrategy.defaultAbortScaleDownDelaySeconds
        let canaryDeadline = abortedAt.secondsSinceEpoch + Int64(delay)
        let keepCanary = now.secondsSinceEpoch < canaryDeadline
        if keepCanary { plan.requeue(after: Double(canaryDeadline - now.secondsSinceEpoch)) }
        // Within the bounds: the kept canary counts toward the total, so stable may
        // surge back to full size; canary and older pods leave only as availability allows.
        scale(canary: canary, stable: stable, target: ReplicaSplit(canary: keepCanary ? (canary?.desiredReplicas ?? 0) : 0, stable: replicas))
        route(stableService: [stable, canary].compactMap { $0 }, canaryService: [stable, canary].compactMap { $0 })
        status.removeCondition(.Paused)
        status.removeCondition(.Completed)
        let message = "RolloutAborted: \(abortMessage(revision: canary?.revision ?? 0))"
        status.setCondition(.Progressing, false, reason: "RolloutAborted", message: message, now: now)
        setPhase(.Degraded, message)
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
        plan.event("ScalingReplicaSet", "Scaled \(verb) ReplicaSet \(rsName) from \(rs.desiredReplicas) to \(size)")
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
                plan.event("SwitchService", "Switched selector for service \(serviceName) to pod template hash \(hash)")
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

    // MARK: role metadata

    /// canaryMetadata and stableMetadata: the canary's pods carry the first, the
    /// stable's the second; a promotion swaps them in place, without restarts.
    mutating func applyRoleMetadata(stable: ReplicaSet, canary: ReplicaSet?) {
        let canaryMeta = strategy.canaryMetadata ?? PodMetadata()
        let stableMeta = strategy.stableMetadata ?? PodMetadata()
        guard canaryMeta != PodMetadata() || stableMeta != PodMetadata() else { return }
        for (rs, mine, other) in [(stable, stableMeta, canaryMeta)] + (canary.map { [($0, canaryMeta, stableMeta)] } ?? []) {
            var labels: [String: String?] = [:], annotations: [String: String?] = [:]
            for k in (other.labels ?? [:]).keys where mine.labels?[k] == nil { labels[k] = .some(nil) }
            for k in (other.annotations ?? [:]).keys where mine.annotations?[k] == nil { annotations[k] = .some(nil) }
            for (k, v) in mine.labels ?? [:] { labels[k] = v }
            for (k, v) in mine.annotations ?? [:] { annotations[k] = v }
            func satisfied(_ have: [String: String]?, _ want: [String: String?]) -> Bool {
                want.allSatisfy { k, v in have?[k] == v }
            }
            let templateMeta = rs.spec.template?["metadata"]
            func strings(_ v: JSONValue?) -> [String: String] {
                guard case .object(let o)? = v else { return [:] }
                return o.compactMapValues(\.stringValue)
            }
            let podsOfRS = view.pods.filter { $0.metadata.labels?[podTemplateHashLabel] == rs.podTemplateHash }
            let stalePods = podsOfRS.filter { !satisfied($0.metadata.labels, labels) || !satisfied($0.metadata.annotations, annotations) }
            let templateOK = satisfied(strings(templateMeta?["labels"]), labels) && satisfied(strings(templateMeta?["annotations"]), annotations)
            if !templateOK || !stalePods.isEmpty {
                plan.actions.append(.setPodMetadata(replicaSet: rs.metadata.name ?? "", pods: stalePods.compactMap(\.metadata.name),
                                                    labels: labels, annotations: annotations))
            }
        }
    }

    func stablePods(_ stable: ReplicaSet) -> [Pod] {
        view.pods.filter { $0.metadata.labels?[podTemplateHashLabel] == stable.podTemplateHash }
    }

    // MARK: restart

    /// spec.restartAt: once it has passed, the stable ReplicaSet's pods older
    /// than it are deleted (and so recreated) a few at a time: as many as
    /// maxUnavailable allows beyond the pods already missing, at least one.
    mutating func restartPods(of stable: ReplicaSet) {
        guard let restartAt = rollout.spec.restartAt, old.restartedAt != restartAt else { return }
        guard restartAt <= now else {
            plan.requeue(after: Double(restartAt.secondsSinceEpoch - now.secondsSinceEpoch))
            return
        }
        let stale = stablePods(stable)
            .filter { $0.metadata.deletionTimestamp == nil && ($0.metadata.creationTimestamp ?? now) < restartAt }
            .sorted { ($0.metadata.creationTimestamp ?? now) < ($1.metadata.creationTimestamp ?? now) }
        if stale.isEmpty {
            guard stablePods(stable).allSatisfy({ $0.metadata.deletionTimestamp == nil }), available(stable) >= stable.desiredReplicas else { return }
            status.restartedAt = restartAt
            plan.event("RolloutRestarted", "Restarted all pods of ReplicaSet \(stable.metadata.name ?? "")")
            return
        }
        let maxUnavailable = (try? (strategy.maxUnavailable ?? CanaryStrategy.defaultMaxUnavailable).scaled(total: replicas, roundUp: false)) ?? 0
        let missing = max(0, stable.desiredReplicas - available(stable))
        let budget = max(1, maxUnavailable) - missing
        for pod in stale.prefix(max(0, budget)) {
            plan.actions.append(.deletePod(name: pod.metadata.name ?? ""))
            plan.event("RestartingPod", "Restarting pod \(pod.metadata.name ?? "") (spec.restartAt \(restartAt))")
        }
    }

    // MARK: history, adoption, counts

    mutating func pruneHistory(keeping hashes: [String]) {
        let limit = rollout.spec.effectiveRevisionHistoryLimit
        let idle = others(except: hashes)
            .filter { $0.desiredReplicas == 0 && ($0.status?.replicas ?? 0) == 0 && plannedSizes[$0.metadata.name ?? "", default: 0] == 0 }
            .sorted { ($0.revision ?? 0) > ($1.revision ?? 0) }
        for rs in idle.dropFirst(limit) {
            plan.actions.append(.deleteReplicaSet(name: rs.metadata.name ?? ""))
        }
    }

    mutating func adoptOrphans() {
        let uid = rollout.metadata.uid
        for rs in view.replicaSets {
            if let owner = rs.metadata.ownerReferences?.first(where: { $0.controller == true }) {
                if owner.uid == uid { owned.append(rs) }
                continue
            }
            guard rs.podTemplateHash != nil, rollout.spec.selector?.matches(rs.metadata.labels ?? [:]) == true else { continue }
            plan.actions.append(.adoptReplicaSet(name: rs.metadata.name ?? "", owner: .controller(of: rollout)))
            owned.append(rs)
        }
    }

    mutating func countReplicas(currentHash hash: String?) {
        status.replicas = owned.reduce(0) { $0 + ($1.status?.replicas ?? 0) }
        status.readyReplicas = owned.reduce(0) { $0 + ($1.status?.readyReplicas ?? 0) }
        status.availableReplicas = owned.reduce(0) { $0 + ($1.status?.availableReplicas ?? 0) }
        status.updatedReplicas = owned.first { $0.podTemplateHash == hash }?.status?.replicas ?? 0
        if (status.availableReplicas ?? 0) >= replicas {
            status.setCondition(.Available, true, reason: "AvailableReplicas", message: "Rollout has at least \(replicas) available pods", now: now)
        } else {
            status.setCondition(.Available, false, reason: "AvailableReplicas", message: "Rollout does not have minimum availability", now: now)
        }
    }

    func others(except hashes: [String]) -> [ReplicaSet] {
        owned.filter { !hashes.contains($0.podTemplateHash ?? "") }
    }

    func available(_ rs: ReplicaSet) -> Int { rs.status?.availableReplicas ?? 0 }

    func newReplicaSet(hash: String, digest: String, template: JSONValue, replicas: Int) -> ReplicaSet {
        var podTemplate = template
        var meta = podTemplate["metadata"] ?? [:]
        var labels = meta["labels"] ?? [:]
        if case .object(var l) = labels { l[podTemplateHashLabel] = .string(hash); labels = .object(l) }
        if case .object(var m) = meta { m["labels"] = labels; meta = .object(m) }
        if case .object(var t) = podTemplate { t["metadata"] = meta; podTemplate = .object(t) }
        var podLabels: [String: String] = [:]
        if case .object(let l) = labels { for (k, v) in l { if case .string(let s) = v { podLabels[k] = s } } }
        var selector = rollout.spec.selector ?? LabelSelector()
        selector.matchLabels = (selector.matchLabels ?? [:]).merging([podTemplateHashLabel: hash]) { _, new in new }
        let revision = (owned.compactMap(\.revision).max() ?? 0) + 1
        return ReplicaSet(
            metadata: ObjectMeta(name: "\(name)-\(hash)", namespace: rollout.metadata.namespace, labels: podLabels,
                                 annotations: [revisionAnnotation: String(revision), templateDigestAnnotation: digest],
                                 ownerReferences: [.controller(of: rollout)]),
            spec: ReplicaSet.Spec(replicas: replicas, minReadySeconds: rollout.spec.minReadySeconds, selector: selector, template: podTemplate))
    }

    // MARK: phase, progress, deadline

    mutating func setPhase(_ phase: RolloutPhase, _ message: String) {
        status.phase = phase
        status.message = message.isEmpty ? nil : message
    }

    /// Progressing, with a message that changes whenever pods move or a step
    /// completes, so its lastUpdateTime marks the last progress. With no
    /// progress for progressDeadlineSeconds the condition goes False
    /// (ProgressDeadlineExceeded) and, with progressDeadlineAbort, the update
    /// aborts. Pauses do not count: entering and leaving one changes the message.
    mutating func progress(rs: ReplicaSet) {
        let rsName = rs.metadata.name ?? ""
        let where_ = "step \(status.currentStepIndex ?? 0)/\(steps.count), \(status.updatedReplicas ?? 0) updated, \(status.availableReplicas ?? 0) available"
        let progressMessage = "ReplicaSet \(rsName) is progressing: \(where_)"
        let last = old.condition(.Progressing)
        // Progress is a step completed or more updated or available pods; a pod
        // that flaps back to unready is not, so it cannot hold the deadline off.
        let advanced = (status.currentStepIndex ?? 0) > (old.currentStepIndex ?? 0)
            || (status.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0)
            || (status.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
        let tracking = last?.status == "True" && last?.reason == "ReplicaSetUpdated"
        let timedOut = last?.reason == "ProgressDeadlineExceeded"
        let since = (tracking || timedOut) && !advanced ? (last?.lastUpdateTime ?? now) : now
        let due = since.secondsSinceEpoch + Int64(rollout.spec.effectiveProgressDeadlineSeconds)
        guard now.secondsSinceEpoch >= due else {
            status.setCondition(.Progressing, true, reason: "ReplicaSetUpdated", message: progressMessage, now: now)
            setLastUpdate(since)
            setPhase(.Progressing, progressMessage)
            plan.requeue(after: Double(due - now.secondsSinceEpoch))
            return
        }
        let message = "ReplicaSet \(rsName) has timed out progressing"
        if !timedOut { plan.event("ProgressDeadlineExceeded", message, warning: true) }
        status.setCondition(.Progressing, false, reason: "ProgressDeadlineExceeded", message: message, now: now)
        setLastUpdate(since)
        setPhase(.Degraded, "ProgressDeadlineExceeded: \(message)")
        if rollout.spec.progressDeadlineAbort == true, status.stableRS != status.currentPodHash {
            status.abort = true
            plan.requeue(after: 0)
        }
    }

    /// The Progressing condition's lastUpdateTime is the time of the last progress.
    mutating func setLastUpdate(_ t: KubeTime) {
        if let i = status.conditions?.firstIndex(where: { $0.type == .Progressing }) { status.conditions?[i].lastUpdateTime = t }
    }

    func finish() -> Plan {
        var p = plan
        var status = status
        if status.phase == .Healthy {
            status.setCondition(.Healthy, true, reason: "RolloutHealthy", message: "Rollout is healthy", now: now)
        } else {
            status.setCondition(.Healthy, false, reason: "RolloutHealthy", message: "Rollout is \(status.phase?.rawValue ?? "not healthy")", now: now)
        }
        p.status = status
        return p
    }
}
