import AnalysisCore
import AviaryAPI
import Foundation
import KubeAPI

/// The decisions, as one pure function: what the cluster looks like now →
/// which API calls to make and what the status becomes.
///
/// The Rollout is in one of three situations:
/// 1. **First deploy** (no stable ReplicaSet yet): the template goes straight
///    to stable at full size, without steps.
/// 2. **Settled** (the template is the stable one): stable at full size, every
///    other ReplicaSet drained. Reverting the template to stable's lands here
///    at once: that is the fast rollback.
/// 3. **An update** (a new template): the canary step machine
///    (`Canary/`) or the blue-green stages (`BlueGreen/`) move it on; abort,
///    retry, promote and the deadline act there.
public enum RolloutPlanner {
    public static func plan(_ view: RolloutView) -> Plan {
        var ctx = Context(view: view)
        ctx.run()
        return ctx.finish()
    }
}

/// One reconcile's working state. Only `RolloutPlanner.plan` creates it.
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
    /// Set for a blue-green Rollout.
    let blueGreen: BlueGreenStrategy?
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
        blueGreen = rollout.spec.strategy?.blueGreen
        steps = strategy.steps ?? []
    }

    var name: String { rollout.metadata.name ?? "" }

    mutating func run() {
        status.observedGeneration = rollout.metadata.generation
        status.selector = rollout.spec.selector?.queryString
        adoptOrphans()
        repairStatus()
        // The template's identity, worked out once per reconcile.
        let template = rollout.spec.template
        let digest = template.map(PodTemplateHash.digest)
        let collisions = status.collisionCount ?? 0
        // A ReplicaSet already made from this template keeps its hash, whatever the collision count is now.
        // A ReplicaSet already made from this template keeps its hash. So does one
        // whose pod template *is* this template (an undo copies a ReplicaSet's
        // template, defaults the API server added included, back into the Rollout).
        let made = owned.first { digest != nil && $0.templateDigest == digest }
            ?? owned.first { template != nil && $0.templateWithoutHash == template }
        let hash = made?.podTemplateHash ?? template.map { PodTemplateHash.compute($0, collisionCount: collisions) }
        countReplicas(currentHash: hash)

        let problems = Validation.problems(rollout, services: view.services, templates: view.templates)
        if !problems.isEmpty {
            // Bounded, so the status write always fits the CRD's 32 KiB message limit.
            let message = ValueText.truncated(problems.joined(separator: "; "), limit: 16_384)
            if old.condition(.InvalidSpec)?.message != message { plan.event(.invalidSpec, message, warning: true) }
            status.setCondition(.InvalidSpec, true, reason: "InvalidSpec", message: message, now: now)
            status.phase = .Degraded
            status.message = "InvalidSpec: \(message)"
            return
        }
        status.removeCondition(.InvalidSpec)

        guard let template, let digest, let hash else { return }
        if made == nil, let clash = owned.first(where: { $0.podTemplateHash == hash }), let d = clash.templateDigest, d != digest {
            // Another template already has this hash: count the collision and hash again next time.
            status.collisionCount = collisions + 1
            plan.requeue(after: 0)
            return
        }
        status.currentPodHash = hash
        let stepsHash = PodTemplateHash.compute((try? JSONValue(encoding: steps)) ?? .null)

        guard let stableHash = status.stableRS, let stable = owned.first(where: { $0.podTemplateHash == stableHash }) else {
            firstDeploy(hash: hash, digest: digest, template: template, stepsHash: stepsHash)
            return
        }
        switch (blueGreen, stableHash == hash) {
        case (nil, true): settle(stable: stable, stepsHash: stepsHash)
        case (nil, false): canary(hash: hash, digest: digest, template: template, stable: stable, stepsHash: stepsHash)
        case (_?, true): settleBlueGreen(stable: stable)
        case (let bg?, false): blueGreen(bg, hash: hash, digest: digest, template: template, stable: stable)
        }
    }

    // MARK: the three situations

    mutating func firstDeploy(hash: String, digest: String, template: JSONValue, stepsHash: String) {
        var rs = owned.first { $0.podTemplateHash == hash }
        if rs == nil {
            let created = newReplicaSet(hash: hash, digest: digest, template: template, replicas: replicas)
            plan.actions.append(.createReplicaSet(created))
            plan.event(.newReplicaSetCreated, "Created ReplicaSet \(created.metadata.name!) (revision \(created.revision ?? 1)) with size \(replicas)")
            rs = created
            owned.append(created)
        }
        status.stableRS = hash
        if blueGreen != nil {
            settleBlueGreen(stable: rs!)
            return
        }
        status.currentStepIndex = steps.count
        status.currentStepHash = stepsHash
        settle(stable: rs!, stepsHash: stepsHash)
    }

    /// A settled rollout has nothing left to abort, pause or promote. Landing
    /// here from an update (the template reverted to stable's) is a rollback.
    mutating func settled(_ stable: ReplicaSet, without skipped: String) {
        let hash = stable.podTemplateHash
        if old.currentPodHash != nil, old.currentPodHash != hash, old.stableRS == hash {
            plan.event(.rolloutUpdated, "Rolled back to the stable template (revision \(stable.revision ?? 0)) without \(skipped)")
        }
        status.abort = nil
        status.abortedAt = nil
        status.promoteFull = nil
        status.pauseConditions = nil
        status.controllerPause = nil
    }

    /// The start of an abort in any strategy: when it began, its event once, no pause left.
    mutating func beginAbort(revision: Int) -> KubeTime {
        let abortedAt = old.abortedAt ?? now
        if old.abortedAt == nil {
            plan.event(.rolloutAborted, abortMessage(revision: revision), warning: true)
        }
        status.abortedAt = abortedAt
        status.pauseConditions = nil
        status.controllerPause = nil
        status.promoteFull = nil
        settleAnalysisRuns(current: [])
        return abortedAt
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

    /// canaryMetadata and stableMetadata: the canary's pods carry the first, the
    /// stable's the second; a promotion swaps them in place, without restarts.
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
            plan.event(.rolloutRestarted, "Restarted all pods of ReplicaSet \(stable.metadata.name ?? "")")
            return
        }
        let maxUnavailable = (try? (strategy.maxUnavailable ?? CanaryStrategy.defaultMaxUnavailable).scaled(total: replicas, roundUp: false)) ?? 0
        let missing = max(0, stable.desiredReplicas - available(stable))
        let budget = max(1, maxUnavailable) - missing
        for pod in stale.prefix(max(0, budget)) {
            plan.actions.append(.deletePod(name: pod.metadata.name ?? ""))
            plan.event(.restartingPod, "Restarting pod \(pod.metadata.name ?? "") (spec.restartAt \(restartAt))")
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
        podLabels[podTemplateHashLabel] = hash
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
        let counts = "\(status.updatedReplicas ?? 0) updated, \(status.availableReplicas ?? 0) available"
        let where_ = steps.isEmpty ? counts : "step \(status.currentStepIndex ?? 0)/\(steps.count), \(counts)"
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
        if !timedOut { plan.event(.progressDeadlineExceeded, message, warning: true) }
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
