import AviaryAPI
import KubeAPI

/// What every strategy shares around an update: adoption and counts, going
/// back (abort), role metadata, restarts, history, the progress deadline
/// and the rollback window.
extension Reconcile {
    // MARK: adoption and counts

    /// ReplicaSets this Rollout controls, plus orphans it matches (adopted
    /// here), by the one rule `get` and `undo` use too (`Ownership`).
    mutating func adoptOrphans() {
        for rs in view.replicaSets {
            switch Ownership.relation(of: rs, to: rollout) {
            case .owned:
                owned.append(rs)
            case .adoptable:
                plan.actions.append(.adoptReplicaSet(name: rs.metadata.name ?? "", owner: .controller(of: rollout)))
                owned.append(rs)
            case .foreign, .unrelated:
                continue
            }
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

    // MARK: abort

    /// The start of going back, in any strategy: when it began, its event
    /// once, and the runs that no longer matter stopped.
    mutating func beginAbort(revision: Int) -> KubeTime {
        update.abort(now: now)
        guard case .aborted(let since) = update.phase else { return now }
        if old.abortedAt == nil, !abortAnnounced {
            plan.event(.rolloutAborted, abortMessage(revision: revision), warning: true)
        }
        settleAnalysisRuns(current: [])
        return since
    }

    /// An aborted rollout is Degraded, and its message says why (which analysis, if one did it).
    mutating func endAbort(revision: Int) {
        status.removeCondition(.Paused)
        status.removeCondition(.Completed)
        let message = "RolloutAborted: \(abortMessage(revision: revision))"
        status.setCondition(.Progressing, false, reason: "RolloutAborted", message: message, now: now)
        setPhase(.Degraded, message)
    }

    // MARK: role metadata

    /// canaryMetadata/stableMetadata (activeMetadata/previewMetadata): the
    /// new pods carry the first, the serving ones the second; a promotion
    /// swaps them in place, without restarts.
    mutating func applyRoleMetadata(stable: ReplicaSet, canary: ReplicaSet?, stableMetadata: PodMetadata?, canaryMetadata: PodMetadata?) {
        let canaryMeta = canaryMetadata ?? PodMetadata()
        let stableMeta = stableMetadata ?? PodMetadata()
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
            let stalePods = pods(of: rs).filter { !satisfied($0.metadata.labels, labels) || !satisfied($0.metadata.annotations, annotations) }
            let templateOK = satisfied(strings(templateMeta?["labels"]), labels) && satisfied(strings(templateMeta?["annotations"]), annotations)
            if !templateOK || !stalePods.isEmpty {
                plan.actions.append(.setPodMetadata(replicaSet: rs.metadata.name ?? "", pods: stalePods.compactMap(\.metadata.name),
                                                    labels: labels, annotations: annotations))
            }
        }
    }

    // MARK: restart

    /// spec.restartAt: once it has passed, the stable ReplicaSet's pods older
    /// than it are deleted (and so recreated) a few at a time: as many as the
    /// strategy's maxUnavailable allows beyond the pods already missing, at least one.
    mutating func restartPods(of stable: ReplicaSet, maxUnavailable: Int) {
        guard let restartAt = rollout.spec.restartAt, old.restartedAt != restartAt else { return }
        guard restartAt <= now else {
            plan.requeue(after: Double(restartAt.secondsSinceEpoch - now.secondsSinceEpoch))
            return
        }
        let stale = pods(of: stable)
            .filter { $0.metadata.deletionTimestamp == nil && ($0.metadata.creationTimestamp ?? now) < restartAt }
            .sorted { ($0.metadata.creationTimestamp ?? now) < ($1.metadata.creationTimestamp ?? now) }
        if stale.isEmpty {
            guard pods(of: stable).allSatisfy({ $0.metadata.deletionTimestamp == nil }), available(stable) >= stable.desiredReplicas else { return }
            status.restartedAt = restartAt
            plan.event(.rolloutRestarted, "Restarted all pods of ReplicaSet \(stable.metadata.name ?? "")")
            return
        }
        let missing = max(0, stable.desiredReplicas - available(stable))
        let budget = max(1, maxUnavailable) - missing
        for pod in stale.prefix(max(0, budget)) {
            plan.actions.append(.deletePod(name: pod.metadata.name ?? ""))
            plan.event(.restartingPod, "Restarting pod \(pod.metadata.name ?? "") (spec.restartAt \(restartAt))")
        }
    }

    // MARK: history

    /// Idle ReplicaSets beyond revisionHistoryLimit go, oldest first.
    mutating func pruneHistory(keeping hashes: [String]) {
        let limit = rollout.spec.effectiveRevisionHistoryLimit
        let idle = others(except: hashes)
            .filter { $0.desiredReplicas == 0 && ($0.status?.replicas ?? 0) == 0 && plannedSizes[$0.metadata.name ?? "", default: 0] == 0 }
            .sorted { ($0.revision ?? 0) > ($1.revision ?? 0) }
        for rs in idle.dropFirst(limit) {
            plan.actions.append(.deleteReplicaSet(name: rs.metadata.name ?? ""))
        }
    }

    /// The current template's ReplicaSet carries the newest revision, as a
    /// Deployment's and Argo's do: one made current again (an undo, a revert to
    /// stable) becomes the next revision, so history pruning, which goes oldest
    /// first, never takes the ReplicaSet that served last.
    mutating func renumberCurrent() {
        guard writesUpdate, let hash = status.currentPodHash,
              let current = owned.first(where: { $0.podTemplateHash == hash && $0.metadata.uid != nil }),
              let revision = current.revision, let name = current.metadata.name else { return }
        let newest = owned.compactMap(\.revision).max() ?? revision
        guard revision < newest, newest < Int.max else { return }
        plan.actions.append(.annotateReplicaSet(name: name, annotations: [revisionAnnotation: String(newest + 1)]))
    }

    // MARK: progress and the deadline

    /// Progressing, with a message that changes whenever pods move or a step
    /// completes, so its lastUpdateTime marks the last progress. With no
    /// progress for progressDeadlineSeconds the condition goes False
    /// (ProgressDeadlineExceeded) and, with progressDeadlineAbort, the update
    /// aborts. Pauses do not count: entering and leaving one changes the message.
    mutating func progress(rs: ReplicaSet) {
        let rsName = rs.metadata.name ?? ""
        let counts = "\(status.updatedReplicas ?? 0) updated, \(status.availableReplicas ?? 0) available"
        let stepCount = rollout.spec.strategy?.blueGreen == nil ? (rollout.spec.strategy?.canary?.steps ?? []).count : 0
        var step: Int? { if case .step(let i)? = update.position { i } else { nil } }
        let where_ = stepCount == 0 ? counts : "step \(step ?? 0)/\(stepCount), \(counts)"
        let progressMessage = "ReplicaSet \(rsName) is progressing: \(where_)"
        let last = old.condition(.Progressing)
        // Progress is a step completed or more updated or available pods; a pod
        // that flaps back to unready is not, so it cannot hold the deadline off.
        let advanced = (step ?? 0) > (old.currentStepIndex ?? 0)
            || (status.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0)
            || (status.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
        let tracking = last?.status == .true && last?.reason == "ReplicaSetUpdated"
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
        if !timedOut { plan.event(.progressDeadlineExceeded, message, warning: true) }
        status.setCondition(.Progressing, false, reason: "ProgressDeadlineExceeded", message: message, now: now)
        setLastUpdate(since)
        setPhase(.Degraded, "ProgressDeadlineExceeded: \(message)")
        if rollout.spec.progressDeadlineAbort == true, status.stableRS != status.currentPodHash, !update.isAborted {
            // Aborted from the next reconcile on; said now, while the reason is at hand.
            update.abort(now: now)
            abortAnnounced = true
            plan.event(.rolloutAborted, abortMessage(revision: rs.revision ?? 0), warning: true)
            plan.requeue(after: 0)
        }
    }

    /// The Progressing condition's lastUpdateTime is the time of the last progress.
    mutating func setLastUpdate(_ t: KubeTime) {
        if let i = status.conditions?.firstIndex(where: { $0.type == .Progressing }) { status.conditions?[i].lastUpdateTime = t }
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
