import AviaryAPI
import KubeAPI

/// The blue-green strategy. The new ReplicaSet stands up beside the stable
/// one and is checked on the preview Service; promotion switches the active
/// Service's selector in one patch, and only to a fully available ReplicaSet.
/// The old one keeps running until post-promotion analysis has passed and
/// scaleDownDelaySeconds more, so rolling back is one selector switch.
///
/// An update moves through `BlueGreenStage`s, kept in the status:
/// - **Preview**: the new ReplicaSet grows to previewReplicaCount; preview
///   switches to it; once it is available, pre-promotion analysis, then the
///   promotion gate (a pause when autoPromotionEnabled is false, a timed one
///   with autoPromotionSeconds, else none);
/// - **Promoting**: full size, then the cutover of the active Service;
/// - **PostPromotion**: post-promotion analysis; passing makes it stable,
///   failing switches active back and aborts.
extension Context {
    var activeService: String? { blueGreen?.activeService }
    var previewService: String? { blueGreen?.previewService }

    // MARK: settled

    /// Active and preview on stable, stable at full size, older ReplicaSets
    /// drained once their scale-down delay is over.
    mutating func settleBlueGreen(stable: ReplicaSet) {
        let hash = stable.podTemplateHash ?? ""  // every owned ReplicaSet carries the label: the caches select by it
        settled(stable, without: "analysis")
        status.currentStepIndex = nil
        status.blueGreen = status.blueGreen ?? BlueGreenStatus()
        status.blueGreen?.stage = nil
        setSize(stable, replicas)
        clearDeadline(stable)
        switchService(activeService, to: stable)
        switchService(previewService, to: stable)
        drainOld(except: [hash])
        applyRoleMetadata(stable: stable, canary: nil, stableMetadata: blueGreen?.activeMetadata, canaryMetadata: blueGreen?.previewMetadata)
        restartPods(of: stable)
        settleAnalysisRuns(current: [])
        pruneHistory(keeping: [hash])
        status.removeCondition(.Paused)
        status.setCondition(.Completed, true, reason: "RolloutCompleted", message: "Rollout completed", now: now)
        let serving = status.blueGreen?.activeSelector == hash || activeService == nil
        if available(stable) >= replicas, stable.desiredReplicas == replicas, serving {
            if old.phase != .Healthy {
                plan.event(.rolloutCompleted, "Rollout completed: revision \(stable.revision ?? 0) is active with \(replicas) available pods")
            }
            status.setCondition(.Progressing, true, reason: "NewReplicaSetAvailable", message: "ReplicaSet \(stable.metadata.name ?? "") is available", now: now)
            setPhase(.Healthy, "")
        } else {
            progress(rs: stable)
        }
    }

    // MARK: an update

    mutating func blueGreen(_ bg: BlueGreenStrategy, hash: String, digest: String, template: JSONValue, stable: ReplicaSet) {
        let stableHash = stable.podTemplateHash ?? ""  // every owned ReplicaSet carries the label: the caches select by it
        if status.blueGreen == nil { status.blueGreen = BlueGreenStatus() }
        if old.currentPodHash != hash {
            // A new template starts at Preview (or, inside the rollback window, promotes at once).
            status.blueGreen?.stage = .Preview
            status.blueGreen?.prePromotionAnalysisRunStatus = nil
            status.blueGreen?.postPromotionAnalysisRunStatus = nil
            status.abort = nil
            status.abortedAt = nil
            status.pauseConditions = nil
            status.controllerPause = nil
            status.promoteFull = nil
            plan.event(.rolloutUpdated, "Rollout updated to a new template (hash \(hash))")
            if let revision = rollbackTarget(hash: hash) {
                status.blueGreen?.stage = .Promoting
                plan.event(.rolloutRollback, "Rolling back to revision \(revision) within rollbackWindow: skipping analysis and pauses")
            }
        }
        var rs = owned.first { $0.podTemplateHash == hash }
        if status.abort == true {
            abortBlueGreen(stable: stable, preview: rs)
            return
        }
        if old.abortedAt != nil {
            status.abortedAt = nil
            status.pauseConditions = nil
            status.controllerPause = nil
            status.blueGreen?.stage = .Preview
            status.blueGreen?.prePromotionAnalysisRunStatus = nil
            status.blueGreen?.postPromotionAnalysisRunStatus = nil
            plan.event(.rolloutRetry, "Retrying the update")
        }
        if status.promoteFull == true {
            // promote --full: straight to the cutover, without analysis or pauses.
            status.promoteFull = nil
            status.pauseConditions = nil
            status.controllerPause = nil
            if status.blueGreen?.stage == .Preview { status.blueGreen?.stage = .Promoting }
        }
        let stage = status.blueGreen?.stage ?? .Preview
        let previewSize = min(bg.previewReplicaCount ?? replicas, replicas)
        if rs == nil {
            let size = stage == .Preview ? previewSize : replicas
            let created = newReplicaSet(hash: hash, digest: digest, template: template, replicas: size)
            plan.actions.append(.createReplicaSet(created))
            plan.event(.newReplicaSetCreated, "Created ReplicaSet \(created.metadata.name!) (revision \(created.revision ?? 0)) with size \(size)")
            owned.append(created)
            rs = created
        }
        let preview = rs!
        setSize(stable, replicas)
        drainOld(except: [hash, stableHash])
        status.removeCondition(.Completed)
        if stage == .PostPromotion {
            // After the cutover the new pods are the active ones.
            applyRoleMetadata(stable: preview, canary: nil, stableMetadata: bg.activeMetadata, canaryMetadata: bg.previewMetadata)
        } else {
            applyRoleMetadata(stable: stable, canary: preview, stableMetadata: bg.activeMetadata, canaryMetadata: bg.previewMetadata)
        }
        restartPods(of: stable)
        pruneHistory(keeping: [hash, stableHash])

        clearDeadline(preview)
        switch status.blueGreen?.stage ?? .Preview {
        case .Preview:
            guard previewStage(bg, preview: preview, stable: stable, size: previewSize, hash: hash) else { break }
            guard promotingStage(preview: preview, stable: stable) else { break }
            postPromotionStage(bg, preview: preview, stable: stable, hash: hash)
        case .Promoting:
            guard promotingStage(preview: preview, stable: stable) else { break }
            postPromotionStage(bg, preview: preview, stable: stable, hash: hash)
        case .PostPromotion:
            postPromotionStage(bg, preview: preview, stable: stable, hash: hash)
        }
        // An analysis that failed just now aborts in this same plan.
        if status.abort == true { return abortBlueGreen(stable: stable, preview: preview) }
        finishUpdate()
    }

    /// Preview: true once promotion is granted (the stage is then Promoting).
    mutating func previewStage(_ bg: BlueGreenStrategy, preview: ReplicaSet, stable: ReplicaSet, size: Int, hash: String) -> Bool {
        setSize(preview, size)
        switchService(activeService, to: stable)
        switchService(previewService, to: preview)
        guard preview.desiredReplicas == size, available(preview) >= size else {
            progress(rs: preview)
            return false
        }
        if let analysis = bg.prePromotionAnalysis {
            switch analysisGate(analysis, step: "pre", hash: hash, field: \.blueGreenPreRun) {
            case .passed: break
            case .failed: return false
            case .waiting:
                waiting(for: status.blueGreenPreRun, "pre-promotion")
                return false
            case .paused:
                pausedBeforePromotion(PauseCondition.Reason.InconclusiveAnalysisRun.rawValue)
                return false
            }
        }
        guard promotionGranted(bg) else { return false }
        status.blueGreen?.stage = .Promoting
        plan.event(.rolloutPromoting, "Promoting ReplicaSet \(preview.metadata.name ?? ""): scaling to \(replicas) before the active Service switches")
        return true
    }

    /// The promotion gate: autoPromotionEnabled false pauses until promoted,
    /// autoPromotionSeconds pauses that long, otherwise it is open.
    mutating func promotionGranted(_ bg: BlueGreenStrategy) -> Bool {
        let manual = bg.autoPromotionEnabled == false
        guard manual || bg.autoPromotionSeconds != nil else { return true }
        if let pause = status.pauseConditions?.first(where: { $0.reason == .BlueGreenPause }) {
            if !manual, let seconds = bg.autoPromotionSeconds {
                let due = pause.startTime.secondsSinceEpoch + Int64(seconds)
                if now.secondsSinceEpoch >= due {
                    status.pauseConditions?.removeAll { $0.reason == .BlueGreenPause }
                    if status.pauseConditions?.isEmpty == true { status.pauseConditions = nil }
                    status.controllerPause = nil
                    plan.event(.rolloutResumed, "Auto-promoting after autoPromotionSeconds (\(seconds)s)")
                    return true
                }
                plan.requeue(after: Double(due - now.secondsSinceEpoch))
            }
            pausedBeforePromotion()
            return false
        }
        if status.controllerPause == true {
            // We paused and the condition is gone: a user promoted.
            status.controllerPause = nil
            plan.event(.rolloutResumed, "Rollout promoted")
            return true
        }
        status.pauseConditions = (status.pauseConditions ?? []) + [PauseCondition(reason: .BlueGreenPause, startTime: now)]
        status.controllerPause = true
        plan.event(.rolloutPaused, bg.autoPromotionSeconds.map { "Rollout paused; promoting automatically in \($0)s" } ?? "Rollout paused until promoted")
        if !manual, let seconds = bg.autoPromotionSeconds { plan.requeue(after: Double(seconds)) }
        pausedBeforePromotion()
        return false
    }

    /// Paused, and the pause does not count against the progress deadline.
    mutating func pausedBeforePromotion(_ reason: String = "BlueGreenPause") {
        status.setCondition(.Paused, true, reason: reason, message: "Rollout is paused (\(reason))", now: now)
        status.setCondition(.Progressing, true, reason: "RolloutPaused", message: "Rollout is paused", now: now)
        setPhase(.Paused, reason)
    }

    /// Promoting: full size, then the active Service switches in one patch,
    /// once every pod is available. True once switched (stage PostPromotion).
    mutating func promotingStage(preview: ReplicaSet, stable: ReplicaSet) -> Bool {
        setSize(preview, replicas)
        switchService(previewService, to: preview)
        guard preview.desiredReplicas == replicas, available(preview) >= replicas else {
            switchService(activeService, to: stable)
            let message = "active service cutover pending: \(available(preview))/\(replicas) of ReplicaSet \(preview.metadata.name ?? "") available"
            progress(rs: preview)
            if status.phase == .Progressing { setPhase(.Progressing, message) }
            return false
        }
        switchService(activeService, to: preview)
        status.blueGreen?.stage = .PostPromotion
        return true
    }

    /// PostPromotion: active serves the new ReplicaSet and the old one still
    /// runs. Passing post-promotion analysis (or having none) makes it stable.
    mutating func postPromotionStage(_ bg: BlueGreenStrategy, preview: ReplicaSet, stable: ReplicaSet, hash: String) {
        setSize(preview, replicas)
        switchService(activeService, to: preview)
        switchService(previewService, to: preview)
        if let analysis = bg.postPromotionAnalysis {
            switch analysisGate(analysis, step: "post", hash: hash, field: \.blueGreenPostRun) {
            case .passed: break
            case .failed: return
            case .waiting:
                waiting(for: status.blueGreenPostRun, "post-promotion")
                return
            case .paused:
                pausedBeforePromotion(PauseCondition.Reason.InconclusiveAnalysisRun.rawValue)
                return
            }
        }
        status.stableRS = hash
        status.blueGreen?.stage = nil
        plan.event(.rolloutPromoted, "Promoted ReplicaSet \(preview.metadata.name ?? "") (revision \(preview.revision ?? 0)) to active")
        // The old one keeps running for scaleDownDelaySeconds: the instant rollback.
        let delay = bg.scaleDownDelaySeconds ?? BlueGreenStrategy.defaultScaleDownDelaySeconds
        let deadline = KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + Int64(delay))
        plan.actions.append(.annotateReplicaSet(name: stable.metadata.name ?? "", annotations: [scaleDownDeadlineAnnotation: deadline.description]))
        progress(rs: preview)
        plan.requeue(after: 0)
    }

    /// The phase and message while an update waits on analysis (which does not count against the deadline).
    mutating func waiting(for run: RolloutAnalysisRunStatus?, _ kind: String) {
        let message = "waiting for \(kind) analysis run \(run?.name ?? "")"
        status.setCondition(.Progressing, true, reason: "RolloutAnalysisRunning", message: message, now: now)
        setPhase(.Progressing, message)
    }

    mutating func finishUpdate() {
        let current = [status.blueGreenPreRun?.name, status.blueGreenPostRun?.name].compactMap { $0 }
        settleAnalysisRuns(current: current)
        if status.pauseConditions == nil { status.removeCondition(.Paused) }
    }

    // MARK: abort

    /// Active back on stable at once (the instant rollback); preview too; the
    /// new ReplicaSet goes after abortScaleDownDelaySeconds.
    mutating func abortBlueGreen(stable: ReplicaSet, preview: ReplicaSet?) {
        let abortedAt = beginAbort(revision: preview?.revision ?? 0)
        setSize(stable, replicas)
        switchService(activeService, to: stable)
        switchService(previewService, to: stable)
        if let preview {
            let delay = blueGreen?.abortScaleDownDelaySeconds ?? BlueGreenStrategy.defaultAbortScaleDownDelaySeconds
            let deadline = abortedAt.secondsSinceEpoch + Int64(delay)
            if now.secondsSinceEpoch >= deadline {
                setSize(preview, 0)
            } else {
                plan.requeue(after: Double(deadline - now.secondsSinceEpoch))
            }
        }
        drainOld(except: [stable.podTemplateHash ?? "", preview?.podTemplateHash ?? ""])
        endAbort(revision: preview?.revision ?? 0)
    }

    // MARK: services and old ReplicaSets

    /// Points a Service at a ReplicaSet that has available pods (never at one
    /// without), and records the selector in the status.
    mutating func switchService(_ name: String?, to rs: ReplicaSet) {
        guard let name, let service = view.services[name], let hash = rs.podTemplateHash else { return }
        let planned = plan.actions.firstIndex { if case .switchService(name, _) = $0 { return true } else { return false } }
        let current: String? = planned.map { i in
            if case .switchService(_, let h) = plan.actions[i] { return h } else { return nil }
        } ?? service.spec?.selector?[podTemplateHashLabel]
        var serving = current
        if current != hash, available(rs) > 0 {
            // A later decision in the same plan (e.g. switch back after a failed analysis) replaces the earlier one.
            if let planned { plan.actions.remove(at: planned) }
            if service.spec?.selector?[podTemplateHashLabel] != hash {
                plan.actions.insert(.switchService(name: name, podTemplateHash: hash), at: firstScaleDownIndex())
            }
            plan.event(.switchService, "Switched selector for service \(name) to pod template hash \(hash)")
            serving = hash
        }
        if name == activeService { status.blueGreen?.activeSelector = serving }
        if name == previewService { status.blueGreen?.previewSelector = serving }
    }

    /// ReplicaSets that are neither stable nor new: each gets a scale-down
    /// deadline (scaleDownDelaySeconds from now) and is scaled to 0 when it
    /// passes; beyond scaleDownDelayRevisionLimit the oldest go at once.
    mutating func drainOld(except hashes: [String]) {
        let delay = blueGreen?.scaleDownDelaySeconds ?? BlueGreenStrategy.defaultScaleDownDelaySeconds
        let running = others(except: hashes).filter { $0.desiredReplicas > 0 }.sorted { ($0.revision ?? 0) > ($1.revision ?? 0) }
        for (i, rs) in running.enumerated() {
            if let limit = blueGreen?.scaleDownDelayRevisionLimit, i >= limit {
                setSize(rs, 0)
                continue
            }
            guard let text = rs.metadata.annotations?[scaleDownDeadlineAnnotation], let deadline = try? KubeTime(parsing: text) else {
                let deadline = KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + Int64(delay))
                plan.actions.append(.annotateReplicaSet(name: rs.metadata.name ?? "", annotations: [scaleDownDeadlineAnnotation: deadline.description]))
                plan.requeue(after: Double(delay))
                continue
            }
            if now >= deadline {
                setSize(rs, 0)
            } else {
                plan.requeue(after: Double(deadline.secondsSinceEpoch - now.secondsSinceEpoch))
            }
        }
    }

    /// A ReplicaSet in use again (stable, or the new one after an undo) loses an old scale-down deadline.
    mutating func clearDeadline(_ rs: ReplicaSet) {
        guard rs.metadata.annotations?[scaleDownDeadlineAnnotation] != nil,
              !plan.actions.contains(where: { if case .annotateReplicaSet(rs.metadata.name ?? "", _) = $0 { return true } else { return false } })
        else { return }
        plan.actions.append(.annotateReplicaSet(name: rs.metadata.name ?? "", annotations: [scaleDownDeadlineAnnotation: nil]))
    }

    // MARK: rollback window

    /// The revision being returned to, when the new template is one of the
    /// last `rollbackWindow.revisions` ReplicaSets before the stable one.
    func rollbackTarget(hash: String) -> Int? {
        guard let window = rollout.spec.rollbackWindow?.revisions, window > 0,
              let target = owned.first(where: { $0.podTemplateHash == hash }), let revision = target.revision,
              let stableRevision = owned.first(where: { $0.podTemplateHash == status.stableRS })?.revision,
              revision < stableRevision else { return nil }
        let between = owned.compactMap(\.revision).filter { $0 > revision && $0 <= stableRevision }.count
        return between <= window ? revision : nil
    }
}
