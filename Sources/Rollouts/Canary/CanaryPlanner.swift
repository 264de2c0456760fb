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
    /// Under a router: its route objects, and the weight that means all traffic.
    let router: (any RouteWriter)?
    let maxWeight: Int

    init(strategy: CanaryStrategy, replicas: Int, namespace: String = "") {
        self.strategy = strategy
        self.steps = strategy.steps ?? []
        self.replicas = replicas
        // Validation has refused a spec where these do not parse.
        maxSurge = (try? (strategy.maxSurge ?? CanaryStrategy.defaultMaxSurge).scaled(total: replicas, roundUp: true)) ?? 0
        maxUnavailable = (try? (strategy.maxUnavailable ?? CanaryStrategy.defaultMaxUnavailable).scaled(total: replicas, roundUp: false)) ?? 0
        let routing = strategy.trafficRouting
        maxWeight = max(1, routing?.maxTrafficWeight ?? CanaryTrafficRouting.defaultMaxTrafficWeight)
        router = Self.router(routing, strategy: strategy, namespace: namespace, maxWeight: maxWeight)
        if let router {
            traffic = RoutedTraffic(writer: router, canaryService: strategy.canaryService, stableService: strategy.stableService,
                                    subsetLevel: routing?.istio?.destinationRule != nil, replicas: replicas,
                                    maxSurge: maxSurge, maxUnavailable: maxUnavailable, maxWeight: maxWeight)
        } else {
            traffic = ReplicaTraffic(canaryService: strategy.canaryService, stableService: strategy.stableService,
                                     replicas: replicas, maxSurge: maxSurge, maxUnavailable: maxUnavailable)
        }
    }

    /// The router the spec names, if any (validation refuses two, or one Aviary does not have).
    static func router(_ routing: CanaryTrafficRouting?, strategy: CanaryStrategy, namespace: String, maxWeight: Int) -> (any RouteWriter)? {
        guard let routing else { return nil }
        if let istio = routing.istio {
            return IstioRoutes(istio: istio, canaryService: strategy.canaryService, stableService: strategy.stableService,
                               managedOrder: (routing.managedRoutes ?? []).map(\.name), maxWeight: maxWeight, namespace: namespace)
        }
        if let gateway = try? routing.gateway {
            let at = routing.gatewayAPI != nil ? "spec.strategy.canary.trafficRouting.gatewayAPI"
                : "spec.strategy.canary.trafficRouting.plugins[\"\(CanaryTrafficRouting.gatewayAPIPlugin)\"]"
            return GatewayRoutes(gateway: gateway, canaryService: strategy.canaryService, stableService: strategy.stableService,
                                 maxWeight: maxWeight, namespace: namespace, at: at)
        }
        return nil
    }

    /// What is wrong with the route objects (InvalidSpec); nothing without a router.
    func problems(_ view: RolloutView) -> [String] { router?.problems(view) ?? [] }

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
        r.status.canary?.rollback = nil
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
        r.status.canary?.rollback = nil
        let index = index(r)
        // After the last step, and once the canary holds every pod: promote.
        let promoting = index >= steps.count && canary.desiredReplicas == replicas && r.available(canary) >= replicas
        if !promoting { traffic.move(to: self.target(at: index), canary: canary, stable: stable, &r) }
        if promoting {
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
            r.setPhase(.Paused, Escalation.phaseMessage(pause.reason))
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
        // A gradual rollback holds the canary at its weight until it reaches 0; the delay counts from then.
        let back = rollbackWeight(abortedAt: abortedAt, canary: canary, stable: stable, &r)
        let delay = strategy.abortScaleDownDelaySeconds ?? CanaryStrategy.defaultAbortScaleDownDelaySeconds
        let canaryDeadline = back.since.secondsSinceEpoch + Int64(delay)
        let keepCanary = back.weight > 0 || r.now.secondsSinceEpoch < canaryDeadline
        if keepCanary, back.weight == 0 { r.plan.requeue(after: Double(canaryDeadline - r.now.secondsSinceEpoch)) }
        // The kept canary counts toward the total, so stable may surge back to full size.
        var canaryPods = keepCanary ? (canary?.desiredReplicas ?? 0) : 0
        if back.weight > 0 { canaryPods = min(canaryPods, podsFor(weight: back.weight)) }
        let split = ReplicaSplit(canary: canaryPods, stable: replicas)
        var weight = back.weight
        if router != nil, strategy.dynamicStableScale == true {
            // Stable shrank with its weight: give it back only what its available pods can carry.
            let carried = replicas > 0 ? r.available(stable) * maxWeight / replicas : maxWeight
            weight = max(weight, maxWeight - carried)
            if weight > 0 { r.plan.requeue(after: 1) }
        }
        traffic.move(to: TrafficTarget(weight: weight, split: split, canaryServiceOnStable: back.weight == 0), canary: canary, stable: stable, &r)
        r.endAbort(revision: canary?.revision ?? 0)
        if back.weight > 0 {
            let message = "RolloutAborted: rolling back gradually: canary at weight \(back.weight), stable at \(maxWeight - back.weight)"
            r.setPhase(.Degraded, message)
        }
    }

    /// Canary pods for a weight: under a router ceil(weight × replicas / maxWeight), else the pod split's canary side.
    func podsFor(weight: Int) -> Int {
        if router != nil {
            guard weight > 0 else { return 0 }
            return min(replicas, (weight * replicas + maxWeight - 1) / maxWeight)
        }
        return ReplicaSplit.forWeight(weight, replicas: replicas, maxSurge: maxSurge).canary
    }

    /// Where a gradual rollback stands: the canary weight in force and since
    /// when. Immediate (the default), `abort --now`, or no canary: 0 at once.
    func rollbackWeight(abortedAt: KubeTime, canary: ReplicaSet?, stable: ReplicaSet, _ r: inout Reconcile) -> GradualRollbackStatus {
        let done = GradualRollbackStatus(weight: 0, since: r.status.canary?.rollback?.since ?? abortedAt)
        // A failed metric's `onFailure` may choose: gradualAbort asks for the canary's gradual
        // abortStrategy (or its defaults); an explicit abort stays immediate under one.
        var configured: GradualAbort?
        if case .gradual(let g)? = strategy.abortStrategy { configured = g }
        let chosen: GradualAbort?
        switch r.abortedBy {
        case .gradualAbort?: chosen = configured ?? GradualAbort()
        case .abort(explicit: true)?: chosen = nil
        default: chosen = configured
        }
        guard let gradual = chosen, canary != nil else {
            r.status.canary?.rollback = nil
            return GradualRollbackStatus(weight: 0, since: abortedAt)
        }
        // `abort --now` stamps its request; the abort itself begins a moment later, when the
        // controller sees it, so a stamp up to a minute before the abort still counts.
        if let asked = r.rollout.metadata.annotations?[abortNowAnnotation].flatMap({ try? KubeTime(parsing: $0) }),
           asked.secondsSinceEpoch + 60 >= abortedAt.secondsSinceEpoch {
            let was = r.status.canary?.rollback
            let now = was.map { $0.weight == 0 ? $0 : GradualRollbackStatus(weight: 0, since: r.now) }
            r.status.canary?.rollback = now
            return now ?? done
        }
        let interval = Int64((try? DurationText.wholeSeconds(gradual.interval ?? "30s")) ?? 30)
        let start = r.old.canary?.weights?.canary.weight ?? 0
        var state = r.status.canary?.rollback ?? GradualRollbackStatus(weight: start, since: abortedAt)
        let path: [Int]
        if let steps = gradual.steps {
            path = steps.filter { $0 < state.weight } + [0]
        } else {
            let by = max(1, gradual.stepWeight ?? 25)
            path = Array(stride(from: state.weight - by, to: 0, by: -by)) + [0]
        }
        if state.weight > 0, let next = path.first {
            let due = state.since.secondsSinceEpoch + interval
            // Held for the interval, and until stable has the pods for its share.
            let stableReady = r.available(stable) >= min(replicas, podsFor(weight: maxWeight - next))
            if r.now.secondsSinceEpoch >= due, stableReady {
                state = GradualRollbackStatus(weight: next, since: r.now)
                r.plan.event(.rolloutRollingBack, "Rolling back gradually: canary weight \(next), stable \(maxWeight - next)", warning: true)
                if next > 0 { r.plan.requeue(after: Double(interval)) }
            } else {
                r.plan.requeue(after: r.now.secondsSinceEpoch >= due ? 1 : Double(due - r.now.secondsSinceEpoch))
            }
        }
        if r.status.canary == nil { r.status.canary = CanaryStatus(weights: nil) }
        r.status.canary?.rollback = state
        return state
    }
}
