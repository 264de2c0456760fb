import AnalysisCore
import AviaryAPI
import KubeAPI

/// One reconcile's working state: what was read (`view`, the ReplicaSets
/// this Rollout owns), the update's state machine, and what is being
/// decided (`plan`, `status`). Only `RolloutPlanner.plan` creates it; the
/// strategies receive it `inout` and decide through its few verbs.
struct Reconcile {
    let view: RolloutView
    let rollout: Rollout
    /// The status as read; the plan compares against it to say what changed.
    let old: RolloutStatus
    var status: RolloutStatus
    var plan: Plan
    let now: KubeTime
    let replicas: Int
    /// The update's state machine; written back into `status` when the plan is finished.
    var update: UpdateState
    /// What the user asked for in this status.
    let intents: [UserIntent]
    var owned: [ReplicaSet] = []
    /// Sizes decided in this plan, by ReplicaSet name, for what the Services may select.
    var plannedSizes: [String: Int] = [:]
    /// False while the spec is invalid: then the user's intents wait, unread and unchanged.
    var writesUpdate = false
    /// The abort was announced in this plan (a deadline abort says so at once).
    var abortAnnounced = false
    /// The pod template as its ReplicaSet gets it: tracked ConfigMaps and Secrets
    /// replaced by their snapshots (the Rollout's own template when not tracking).
    let config: ConfigResolver.Resolution
    var template: JSONValue? { config.template }

    init(view: RolloutView) {
        self.view = view
        rollout = view.rollout
        old = rollout.status ?? RolloutStatus()
        status = old
        plan = Plan(status: old)
        now = view.now
        replicas = rollout.spec.effectiveReplicas
        (update, intents) = UpdateState.read(old, blueGreen: rollout.spec.strategy?.blueGreen != nil)
        config = ConfigResolver.resolve(view.rollout, config: view.config)
    }

    var name: String { rollout.metadata.name ?? "" }

    /// The update's state in the status fields, then the Healthy condition.
    func finish() -> Plan {
        var p = plan
        var status = status
        if writesUpdate { update.write(into: &status) }
        if status.phase == .Healthy {
            status.setCondition(.Healthy, true, reason: "RolloutHealthy", message: "Rollout is healthy", now: now)
        } else {
            status.setCondition(.Healthy, false, reason: "RolloutHealthy", message: "Rollout is \(status.phase?.rawValue ?? "not healthy")", now: now)
        }
        NotificationOutbox.record(p.actions, of: rollout, into: &status, now: now)
        p.status = status
        return p
    }

    // MARK: reading the ReplicaSets

    /// Available pods that stay. Never more than the ReplicaSet's live size:
    /// pods beyond it are being deleted and leave a Service's endpoints at
    /// once. And while its status predates its spec (observedGeneration
    /// behind generation: a scale its controller has not acted on yet), the
    /// count is only trusted as far as the pod cache shows ready pods not
    /// being deleted: a ReplicaSet scaled down and up again still reports the
    /// pods it had, and trusting that dropped capacity twice in CI (an abort
    /// scaled the canary down against a stable count of deleted pods; an
    /// undo cut blue-green over to pods on their way out).
    func available(_ rs: ReplicaSet) -> Int {
        let reported = min(rs.status?.availableReplicas ?? 0, max(rs.desiredReplicas, 0))
        guard let generation = rs.metadata.generation, let observed = rs.status?.observedGeneration, observed < generation else {
            return reported
        }
        let ready = pods(of: rs).count { $0.metadata.deletionTimestamp == nil && $0.isReady }
        return min(reported, ready)
    }

    func others(except hashes: [String]) -> [ReplicaSet] {
        owned.filter { !hashes.contains($0.podTemplateHash ?? "") }
    }

    func pods(of rs: ReplicaSet) -> [Pod] {
        view.pods.filter { $0.metadata.labels?[podTemplateHashLabel] == rs.podTemplateHash }
    }

    /// The size this plan gives a ReplicaSet (what it has, unless changed here).
    func plannedSize(_ rs: ReplicaSet) -> Int { plannedSizes[rs.metadata.name ?? "", default: rs.desiredReplicas] }

    // MARK: deciding

    mutating func setPhase(_ phase: RolloutPhase, _ message: String) {
        status.phase = phase
        status.message = message.isEmpty ? nil : message
    }

    /// Creates the template's ReplicaSet at `size`, named `<rollout>-<hash>`, the next revision.
    mutating func createReplicaSet(hash: String, digest: String, template: JSONValue, size: Int) -> ReplicaSet {
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
        let rsName = "\(name)-\(hash)"
        var annotations = [revisionAnnotation: String(revision), templateDigestAnnotation: digest]
        if !config.used.isEmpty { annotations[ConfigTracking.replicaSetAnnotation] = ConfigTracking.replicaSetValue(config.used) }
        let rs = ReplicaSet(
            metadata: ObjectMeta(name: rsName, namespace: rollout.metadata.namespace, labels: podLabels,
                                 annotations: annotations,
                                 ownerReferences: [.controller(of: rollout)]),
            spec: ReplicaSet.Spec(replicas: size, minReadySeconds: rollout.spec.minReadySeconds, selector: selector, template: podTemplate))
        plan.actions.append(.createReplicaSet(rs))
        plan.event(.newReplicaSetCreated, "Created ReplicaSet \(rsName) (revision \(revision))\(size > 0 ? " with size \(size)" : "")")
        owned.append(rs)
        return rs
    }

    /// Sets a ReplicaSet's size: folded into its create when it is new in this plan.
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

    /// Where in the plan an action must go to come before every scale-down
    /// (a Service moves off pods before they go).
    func firstScaleDownIndex() -> Int {
        plan.actions.firstIndex { action in
            if case .scaleReplicaSet(let name, let size) = action {
                return size < (owned.first { $0.metadata.name == name }?.desiredReplicas ?? 0)
            }
            return false
        } ?? plan.actions.count
    }
}
