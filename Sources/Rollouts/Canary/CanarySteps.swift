import AviaryAPI
import KubeAPI

/// The canary's step machine: from the current step, as far as it can go now.
extension CanaryPlanner {
    /// The weight of the last setWeight at or before `index` (100 past the last step).
    func weight(at index: Int) -> Int {
        if index >= steps.count { return 100 }
        for step in steps.prefix(min(index + 1, steps.count)).reversed() {
            if case .setWeight(let w) = step { return w }
        }
        return 0
    }

    /// What traffic looks like at step `index`. The last setCanaryScale at or
    /// before it sets the canary's size apart from the weight, until another
    /// setCanaryScale (matchTrafficWeight: true goes back to the weight).
    func target(at index: Int) -> TrafficTarget {
        if index >= steps.count {
            return TrafficTarget(weight: router == nil ? 100 : maxWeight,
                                 split: ReplicaSplit(canary: replicas, stable: router == nil || strategy.dynamicStableScale == true ? 0 : replicas))
        }
        let weight = weight(at: index)
        var split: ReplicaSplit
        if router != nil {
            // Under a router the pods only carry the weight: canary ceil(w × replicas / max); stable
            // full, or (dynamicStableScale) what its own weight needs.
            let stable = strategy.dynamicStableScale == true ? podsFor(weight: maxWeight - weight) : replicas
            split = ReplicaSplit(canary: podsFor(weight: weight), stable: stable)
        } else {
            split = ReplicaSplit.forWeight(weight, replicas: replicas, maxSurge: maxSurge)
        }
        let scales = steps.prefix(index + 1).compactMap { step -> SetCanaryScale? in
            if case .setCanaryScale(let s) = step { return s } else { return nil }
        }
        if let scale = scales.last {
            if let n = scale.replicas {
                split.canary = min(n, replicas)
            } else if let w = scale.weight {
                split.canary = (replicas * w + 99) / 100
            }
        }
        // Header and mirror routes in force: the last step naming each, unless it removed it.
        var headers: [String: SetHeaderRoute] = [:], mirrors: [String: SetMirrorRoute] = [:]
        for step in steps.prefix(index + 1) {
            switch step {
            case .setHeaderRoute(let h): headers[h.name] = h.match == nil ? nil : h
            case .setMirrorRoute(let m): mirrors[m.name] = m.match == nil ? nil : m
            default: break
            }
        }
        let order = (strategy.trafficRouting?.managedRoutes ?? []).map(\.name)
        return TrafficTarget(weight: weight, split: split,
                             headerRoutes: order.compactMap { headers[$0] }, mirrorRoutes: order.compactMap { mirrors[$0] })
    }

    /// Runs the steps from the current one while each is done.
    func advanceSteps(canary: ReplicaSet, stable: ReplicaSet, hash: String, _ r: inout Reconcile) {
        while case .step(let index)? = r.update.position, index >= 0, index < steps.count {
            let step = steps[index]
            switch step {
            case .pause(let pause):
                guard pauseIsOver(pause, index: index, &r) else { return }
            case .analysis(let analysis):
                guard stepAnalysisPassed(analysis, index: index, hash: hash, &r) else { return }
            case .setWeight, .setCanaryScale:
                guard traffic.reached(target(at: index), canary: canary, stable: stable, r) else { return }
            case .setHeaderRoute, .setMirrorRoute:
                // The routes a step adds are part of its target; done once the router holds them.
                guard traffic.reached(target(at: index), canary: canary, stable: stable, r) else { return }
            case .unsupported:
                return  // validation refuses these; never step past one
            }
            r.update.position = .step(index + 1)
            r.plan.event(.rolloutStepCompleted, "Rollout step \(index + 1)/\(steps.count) completed (\(describe(step)))")
        }
    }

    /// A pause step, through the one pause gate: over when its time is up or a user promoted.
    func pauseIsOver(_ pause: PauseStep, index: Int, _ r: inout Reconcile) -> Bool {
        let seconds = (try? pause.seconds()) ?? nil
        switch r.update.gate(.CanaryPauseStep, seconds: seconds, now: r.now) {
        case .started:
            r.plan.event(.rolloutPaused, seconds.map { "Rollout paused for \($0)s at step \(index + 1)" } ?? "Rollout paused at step \(index + 1) until promoted")
            if let seconds { r.plan.requeue(after: Double(seconds)) }
            return false
        case .holding(let remaining):
            if let remaining { r.plan.requeue(after: Double(remaining)) }
            return false
        case .expired, .released:
            r.plan.event(.rolloutResumed, "Rollout resumed")
            return true
        }
    }

    func describe(_ step: CanaryStep) -> String {
        switch step {
        case .setWeight(let w): "setWeight \(w)"
        case .pause(let p): ((try? p.seconds()) ?? nil).map { "pause \($0)s" } ?? "pause"
        case .setCanaryScale: "setCanaryScale"
        case .analysis: "analysis"
        case .setHeaderRoute(let h): h.match == nil ? "setHeaderRoute \(h.name) removed" : "setHeaderRoute \(h.name)"
        case .setMirrorRoute(let m): m.match == nil ? "setMirrorRoute \(m.name) removed" : "setMirrorRoute \(m.name)"
        case .unsupported(let kinds): kinds.joined(separator: ",")
        }
    }

    // MARK: analysis

    /// The step's run passed; otherwise the step waits (or the update aborts or pauses).
    func stepAnalysisPassed(_ analysis: RolloutAnalysis, index: Int, hash: String, _ r: inout Reconcile) -> Bool {
        guard r.analysisGate(analysis, slot: .step(index), hash: hash) == .passed else { return false }
        r.status.canary?.currentStepAnalysisRunStatus = nil
        return true
    }

    /// Background analysis, from startingStep until promotion.
    func backgroundAnalysis(hash: String, _ r: inout Reconcile) {
        guard let analysis = strategy.analysis, !r.update.isAborted else { return }
        let index = index(r)
        guard index >= (analysis.startingStep ?? 0), index < steps.count else { return }
        _ = r.analysisGate(analysis, slot: .background, hash: hash)
    }

    /// The step's run while the step waits on it, for the phase message.
    func awaitedStepRun(_ r: Reconcile) -> RolloutAnalysisRunStatus? {
        let index = index(r)
        guard index < steps.count, case .analysis = steps[index],
              let recorded = r.status.canary?.currentStepAnalysisRunStatus, !recorded.status.isTerminal else { return nil }
        return recorded
    }
}
