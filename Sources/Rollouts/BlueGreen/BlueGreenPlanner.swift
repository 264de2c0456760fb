import AviaryAPI
import KubeAPI

/// What blue-green adds to the lifecycle. The new ReplicaSet stands up
/// beside the stable one and is checked on the preview Service; promotion
/// switches the active Service's selector in one patch, and only to a fully
/// available ReplicaSet. The old one keeps running until post-promotion
/// analysis has passed and scaleDownDelaySeconds more, so rolling back is
/// one selector switch.
///
/// An update moves through `BlueGreenStage`s (the `UpdatePosition`):
/// - **Preview**: the new ReplicaSet grows to previewReplicaCount; preview
///   switches to it; once it is available, pre-promotion analysis, then the
///   promotion gate (a pause when autoPromotionEnabled is false, a timed one
///   with autoPromotionSeconds, else none);
/// - **Promoting**: full size, then the cutover of the active Service;
/// - **PostPromotion**: post-promotion analysis; passing makes it stable,
///   failing switches active back and aborts.
struct BlueGreenPlanner: StrategyPlanner {
    let strategy: BlueGreenStrategy
    let replicas: Int

    var activeService: String? { strategy.activeService }
    var previewService: String? { strategy.previewService }
    var start: UpdatePosition { .stage(.Preview) }
    var settledPosition: UpdatePosition? { nil }
    /// Blue-green never runs the old and new side below full size.
    var maxUnavailable: Int { 0 }
    func restarts(_ r: Reconcile) -> Bool { false }
    func problems(_ view: RolloutView) -> [String] { [] }

    func skipped(from position: UpdatePosition?) -> UpdatePosition? {
        // promote --full: straight to the cutover, without analysis or pauses.
        position == .stage(.Preview) || position == nil ? .stage(.Promoting) : position
    }

    func forgetRuns(_ r: inout Reconcile) {
        r.status.blueGreen?.prePromotionAnalysisRunStatus = nil
        r.status.blueGreen?.postPromotionAnalysisRunStatus = nil
    }

    var stage: (Reconcile) -> BlueGreenStage {
        { r in if case .stage(let s)? = r.update.position { s } else { .Preview } }
    }

    // MARK: settled

    /// Active and preview on stable, stable at full size, older ReplicaSets
    /// drained once their scale-down delay is over.
    func settle(stable: ReplicaSet, _ r: inout Reconcile) {
        let hash = stable.podTemplateHash ?? ""  // every owned ReplicaSet carries the label: the caches select by it
        r.status.currentStepIndex = nil
        if r.status.blueGreen == nil { r.status.blueGreen = BlueGreenStatus() }
        r.status.blueGreen?.stage = nil
        r.setSize(stable, replicas)
        clearDeadline(stable, &r)
        point(activeService, at: stable, &r)
        point(previewService, at: stable, &r)
        drainOld(except: [hash], &r)
        r.applyRoleMetadata(stable: stable, canary: nil, stableMetadata: strategy.activeMetadata, canaryMetadata: strategy.previewMetadata)
        r.restartPods(of: stable, maxUnavailable: maxUnavailable)
        r.settleAnalysisRuns(current: [])
        r.pruneHistory(keeping: [hash])
        r.status.removeCondition(.Paused)
        r.status.setCondition(.Completed, true, reason: "RolloutCompleted", message: "Rollout completed", now: r.now)
        let serving = r.status.blueGreen?.activeSelector == hash || activeService == nil
        guard r.available(stable) >= replicas, stable.desiredReplicas == replicas, serving else { return r.progress(rs: stable) }
        if r.old.phase != .Healthy {
            r.plan.event(.rolloutCompleted, "Rollout completed: revision \(stable.revision ?? 0) is active with \(replicas) available pods")
        }
        r.status.setCondition(.Progressing, true, reason: "NewReplicaSetAvailable", message: "ReplicaSet \(stable.metadata.name ?? "") is available", now: r.now)
        r.setPhase(.Healthy, "")
    }

    // MARK: an update

    func advance(_ target: TemplateIdentity, stable: ReplicaSet, _ r: inout Reconcile) {
        let stableHash = stable.podTemplateHash ?? ""
        if r.status.blueGreen == nil { r.status.blueGreen = BlueGreenStatus() }
        if r.update.position == nil { r.update.position = start }
        let previewSize = min(strategy.previewReplicaCount ?? replicas, replicas)
        let preview = r.owned.first { $0.podTemplateHash == target.hash }
            ?? r.createReplicaSet(hash: target.hash, digest: target.digest, template: target.template,
                                  size: stage(r) == .Preview ? previewSize : replicas)
        r.setSize(stable, replicas)
        drainOld(except: [target.hash, stableHash], &r)
        r.status.removeCondition(.Completed)
        if stage(r) == .PostPromotion {
            // After the cutover the new pods are the active ones.
            r.applyRoleMetadata(stable: preview, canary: nil, stableMetadata: strategy.activeMetadata, canaryMetadata: strategy.previewMetadata)
        } else {
            r.applyRoleMetadata(stable: stable, canary: preview, stableMetadata: strategy.activeMetadata, canaryMetadata: strategy.previewMetadata)
        }
        r.restartPods(of: stable, maxUnavailable: maxUnavailable)
        r.pruneHistory(keeping: [target.hash, stableHash])
        clearDeadline(preview, &r)

        // Each stage hands on to the next in the same plan when it can.
        var moving = true
        while moving {
            switch stage(r) {
            case .Preview: moving = previewStage(preview: preview, stable: stable, size: previewSize, hash: target.hash, &r)
            case .Promoting: moving = promotingStage(preview: preview, stable: stable, &r)
            case .PostPromotion:
                postPromotionStage(preview: preview, stable: stable, hash: target.hash, &r)
                moving = false
            }
        }
        // An analysis that failed just now aborts in this same plan.
        if r.update.isAborted { return abort(stable: stable, new: preview, &r) }
        let current = [r.status.blueGreenPreRun?.name, r.status.blueGreenPostRun?.name].compactMap { $0 }
        r.settleAnalysisRuns(current: current)
        if case .paused = r.update.phase {} else { r.status.removeCondition(.Paused) }
    }

    /// Preview: true once promotion is granted (the stage is then Promoting).
    func previewStage(preview: ReplicaSet, stable: ReplicaSet, size: Int, hash: String, _ r: inout Reconcile) -> Bool {
        r.setSize(preview, size)
        point(activeService, at: stable, &r)
        point(previewService, at: preview, &r)
        guard preview.desiredReplicas == size, r.available(preview) >= size else {
            r.progress(rs: preview)
            return false
        }
        if let analysis = strategy.prePromotionAnalysis {
            switch r.analysisGate(analysis, slot: .prePromotion, hash: hash) {
            case .passed: break
            case .failed: return false
            case .waiting:
                waiting(for: r.status.blueGreenPreRun, "pre-promotion", &r)
                return false
            case .paused:
                paused(r.heldBy?.rawValue ?? PauseCondition.Reason.InconclusiveAnalysisRun.rawValue, &r)
                return false
            }
        }
        guard promotionGranted(&r) else { return false }
        r.update.position = .stage(.Promoting)
        r.plan.event(.rolloutPromoting, "Promoting ReplicaSet \(preview.metadata.name ?? ""): scaling to \(replicas) before the active Service switches")
        return true
    }

    /// The promotion gate, through the one pause gate: autoPromotionEnabled
    /// false pauses until promoted, autoPromotionSeconds pauses that long,
    /// otherwise it is open.
    func promotionGranted(_ r: inout Reconcile) -> Bool {
        let manual = strategy.autoPromotionEnabled == false
        guard manual || strategy.autoPromotionSeconds != nil else { return true }
        let seconds = manual ? nil : strategy.autoPromotionSeconds
        switch r.update.gate(.BlueGreenPause, seconds: seconds, now: r.now) {
        case .started:
            r.plan.event(.rolloutPaused, seconds.map { "Rollout paused; promoting automatically in \($0)s" } ?? "Rollout paused until promoted")
            if let seconds { r.plan.requeue(after: Double(seconds)) }
        case .holding(let remaining):
            if let remaining { r.plan.requeue(after: Double(remaining)) }
        case .expired:
            r.plan.event(.rolloutResumed, "Auto-promoting after autoPromotionSeconds (\(seconds ?? 0)s)")
            return true
        case .released:
            r.plan.event(.rolloutResumed, "Rollout promoted")
            return true
        }
        paused("BlueGreenPause", &r)
        return false
    }

    /// Paused, and the pause does not count against the progress deadline.
    func paused(_ reason: String, _ r: inout Reconcile) {
        r.status.setCondition(.Paused, true, reason: reason, message: "Rollout is paused (\(reason))", now: r.now)
        r.status.setCondition(.Progressing, true, reason: "RolloutPaused", message: "Rollout is paused", now: r.now)
        r.setPhase(.Paused, PauseCondition.Reason(rawValue: reason).map(Escalation.phaseMessage) ?? reason)
    }

    /// Promoting: full size, then the active Service switches in one patch,
    /// once every pod is available. True once switched (stage PostPromotion).
    func promotingStage(preview: ReplicaSet, stable: ReplicaSet, _ r: inout Reconcile) -> Bool {
        r.setSize(preview, replicas)
        point(previewService, at: preview, &r)
        guard preview.desiredReplicas == replicas, r.available(preview) >= replicas else {
            point(activeService, at: stable, &r)
            let message = "active service cutover pending: \(r.available(preview))/\(replicas) of ReplicaSet \(preview.metadata.name ?? "") available"
            r.progress(rs: preview)
            if r.status.phase == .Progressing { r.setPhase(.Progressing, message) }
            return false
        }
        point(activeService, at: preview, &r)
        r.update.position = .stage(.PostPromotion)
        return true
    }

    /// PostPromotion: active serves the new ReplicaSet and the old one still
    /// runs. Passing post-promotion analysis (or having none) makes it stable.
    func postPromotionStage(preview: ReplicaSet, stable: ReplicaSet, hash: String, _ r: inout Reconcile) {
        r.setSize(preview, replicas)
        point(activeService, at: preview, &r)
        point(previewService, at: preview, &r)
        if let analysis = strategy.postPromotionAnalysis {
            switch r.analysisGate(analysis, slot: .postPromotion, hash: hash) {
            case .passed: break
            case .failed: return
            case .waiting: return waiting(for: r.status.blueGreenPostRun, "post-promotion", &r)
            case .paused: return paused(r.heldBy?.rawValue ?? PauseCondition.Reason.InconclusiveAnalysisRun.rawValue, &r)
            }
        }
        r.status.stableRS = hash
        r.update.finish(at: nil)
        r.status.blueGreen?.stage = nil
        r.plan.event(.rolloutPromoted, "Promoted ReplicaSet \(preview.metadata.name ?? "") (revision \(preview.revision ?? 0)) to active")
        // The old one keeps running for scaleDownDelaySeconds: the instant rollback.
        let delay = strategy.scaleDownDelaySeconds ?? BlueGreenStrategy.defaultScaleDownDelaySeconds
        let deadline = KubeTime(secondsSinceEpoch: r.now.secondsSinceEpoch + Int64(delay))
        r.plan.actions.append(.annotateReplicaSet(name: stable.metadata.name ?? "", annotations: [scaleDownDeadlineAnnotation: deadline.description]))
        r.progress(rs: preview)
        r.plan.requeue(after: 0)
    }

    /// The phase and message while an update waits on analysis (which does not count against the deadline).
    func waiting(for run: RolloutAnalysisRunStatus?, _ kind: String, _ r: inout Reconcile) {
        let message = "waiting for \(kind) analysis run \(run?.name ?? "")"
        r.status.setCondition(.Progressing, true, reason: "RolloutAnalysisRunning", message: message, now: r.now)
        r.setPhase(.Progressing, message)
    }

    // MARK: abort

    /// Active back on stable at once (the instant rollback); preview too; the
    /// new ReplicaSet goes after abortScaleDownDelaySeconds.
    func abort(stable: ReplicaSet, new preview: ReplicaSet?, _ r: inout Reconcile) {
        let abortedAt = r.beginAbort(revision: preview?.revision ?? 0)
        r.setSize(stable, replicas)
        point(activeService, at: stable, &r)
        point(previewService, at: stable, &r)
        if let preview {
            let delay = strategy.abortScaleDownDelaySeconds ?? BlueGreenStrategy.defaultAbortScaleDownDelaySeconds
            let deadline = abortedAt.secondsSinceEpoch + Int64(delay)
            if r.now.secondsSinceEpoch >= deadline {
                r.setSize(preview, 0)
            } else {
                r.plan.requeue(after: Double(deadline - r.now.secondsSinceEpoch))
            }
        }
        drainOld(except: [stable.podTemplateHash ?? "", preview?.podTemplateHash ?? ""], &r)
        r.endAbort(revision: preview?.revision ?? 0)
    }

    // MARK: services and old ReplicaSets

    /// Points a Service at `rs` under the shared rule (any available pod will
    /// do: the cutover itself waits for full availability) and records the selector.
    func point(_ service: String?, at rs: ReplicaSet, _ r: inout Reconcile) {
        guard let service else { return }
        let serving = r.pointService(service, at: [rs], share: { _ in 1 })
        if service == activeService { r.status.blueGreen?.activeSelector = serving }
        if service == previewService { r.status.blueGreen?.previewSelector = serving }
    }

    /// ReplicaSets that are neither stable nor new: each gets a scale-down
    /// deadline (scaleDownDelaySeconds from now) and is scaled to 0 when it
    /// passes; beyond scaleDownDelayRevisionLimit the oldest go at once.
    func drainOld(except hashes: [String], _ r: inout Reconcile) {
        let delay = strategy.scaleDownDelaySeconds ?? BlueGreenStrategy.defaultScaleDownDelaySeconds
        let running = r.others(except: hashes).filter { $0.desiredReplicas > 0 }.sorted { ($0.revision ?? 0) > ($1.revision ?? 0) }
        for (i, rs) in running.enumerated() {
            if let limit = strategy.scaleDownDelayRevisionLimit, i >= limit {
                r.setSize(rs, 0)
                continue
            }
            guard let text = rs.metadata.annotations?[scaleDownDeadlineAnnotation], let deadline = try? KubeTime(parsing: text) else {
                let deadline = KubeTime(secondsSinceEpoch: r.now.secondsSinceEpoch + Int64(delay))
                r.plan.actions.append(.annotateReplicaSet(name: rs.metadata.name ?? "", annotations: [scaleDownDeadlineAnnotation: deadline.description]))
                r.plan.requeue(after: Double(delay))
                continue
            }
            if r.now >= deadline {
                r.setSize(rs, 0)
            } else {
                r.plan.requeue(after: Double(deadline.secondsSinceEpoch - r.now.secondsSinceEpoch))
            }
        }
    }

    /// A ReplicaSet in use again (stable, or the new one after an undo) loses an old scale-down deadline.
    func clearDeadline(_ rs: ReplicaSet, _ r: inout Reconcile) {
        guard rs.metadata.annotations?[scaleDownDeadlineAnnotation] != nil,
              !r.plan.actions.contains(where: { if case .annotateReplicaSet(rs.metadata.name ?? "", _) = $0 { true } else { false } })
        else { return }
        r.plan.actions.append(.annotateReplicaSet(name: rs.metadata.name ?? "", annotations: [scaleDownDeadlineAnnotation: nil]))
    }
}
