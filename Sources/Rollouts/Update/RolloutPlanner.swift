import AnalysisCore
import AviaryAPI
import KubeAPI

/// The decisions, as one pure function: what the cluster looks like now →
/// which API calls to make and what the status becomes.
///
/// Read top to bottom, one reconcile is:
/// 1. take in orphaned ReplicaSets, repair what cannot be right in the status;
/// 2. work out the template's hash (with configuration tracking, over the
///    template naming its ConfigMaps' and Secrets' snapshots); validate (an
///    invalid spec changes nothing); make the snapshots the template needs;
/// 3. pick the situation:
///    - **first deploy** (no stable ReplicaSet yet): the template goes straight to stable;
///    - **settled** (the template is the stable one): stable at full size, the rest drained;
///      reverting the template to stable's lands here at once: the fast rollback;
///    - **an update**: a new template starts over; the user's intents (promote,
///      promote-full, abort, retry) move the `UpdateState`; then the strategy
///      either goes back to stable (aborted) or moves the update on.
///
/// What differs between canary and blue-green is in `CanaryPlanner` and
/// `BlueGreenPlanner`; how traffic moves is in `Traffic/`.
public enum RolloutPlanner {
    public static func plan(_ view: RolloutView) -> Plan {
        var r = Reconcile(view: view)
        r.run(Strategies.of(view.rollout))
        r.renumberCurrent()
        r.tendSnapshots()
        return r.finish()
    }
}

extension Reconcile {
    mutating func run(_ strategy: any StrategyPlanner) {
        status.observedGeneration = rollout.metadata.generation
        status.selector = rollout.spec.selector?.queryString
        adoptOrphans()
        repairStatus()

        // The template's identity, worked out once per reconcile. A ReplicaSet
        // already made from this template keeps its hash, whatever the collision
        // count is now. So does one whose pod template *is* this template (an
        // undo copies a ReplicaSet's template, defaults included, back, less
        // the role metadata the controller added).
        let template = self.template
        let digest = template.map(PodTemplateHash.digest)
        let collisions = status.collisionCount ?? 0
        let made = owned.first { digest != nil && $0.templateDigest == digest }
            ?? template.flatMap { t in
                let specDigest = PodTemplateHash.digest(t["spec"] ?? .null)  // once, not per ReplicaSet
                return owned.first { Ownership.hasUserTemplate($0, t, specDigest: specDigest, for: rollout) }
            }
        let hash = made?.podTemplateHash ?? template.map { PodTemplateHash.compute($0, collisionCount: collisions) }
        countReplicas(currentHash: hash)

        var problems = Validation.problems(rollout, services: view.services, templates: view.templates)
        problems += config.problems
        if problems.isEmpty { problems = strategy.problems(view) }
        if !problems.isEmpty {
            // Bounded, so the status write always fits the CRD's 32 KiB message limit.
            let message = ValueText.truncated(problems.joined(separator: "; "), limit: 16_384)
            if old.condition(.InvalidSpec)?.message != message { plan.event(.invalidSpec, message, warning: true) }
            status.setCondition(.InvalidSpec, true, reason: "InvalidSpec", message: message, now: now)
            setPhase(.Degraded, "InvalidSpec: \(message)")
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
        writesUpdate = true
        createSnapshots()
        let target = TemplateIdentity(hash: hash, digest: digest, template: template)

        guard let stableHash = status.stableRS, let stable = owned.first(where: { $0.podTemplateHash == stableHash }) else {
            // First deploy: straight to stable at full size, without steps.
            let rs = owned.first { $0.podTemplateHash == hash } ?? createReplicaSet(hash: hash, digest: digest, template: template, size: replicas)
            status.stableRS = hash
            status.currentPodHash = hash
            settle(strategy, stable: rs)
            return
        }
        let newTemplate = old.currentPodHash != hash
        status.currentPodHash = hash
        if stableHash == hash {
            settle(strategy, stable: stable)
            return
        }

        // An update. A new template (or, for a canary, new steps) starts over.
        if newTemplate || strategy.restarts(self) {
            update.restart(at: strategy.start)
            strategy.forgetRuns(&self)
            if newTemplate {
                plan.event(.rolloutUpdated, "Rollout updated to a new template (hash \(hash))")
                if let revision = rollbackTarget(hash: hash) {
                    update.apply(.promoteFull, now: now, start: strategy.start, skip: strategy.skipped)
                    plan.event(.rolloutRollback, "Rolling back to revision \(revision) within rollbackWindow: skipping steps, pauses and analysis")
                }
            }
        }
        if !newTemplate {
            for intent in intents {
                let outcome = update.apply(intent, now: now, start: strategy.start, skip: strategy.skipped)
                if outcome == .retried {
                    strategy.forgetRuns(&self)
                    plan.event(.rolloutRetry, "Retrying the update from the start")
                }
            }
        }
        if update.isAborted {
            strategy.abort(stable: stable, new: owned.first { $0.podTemplateHash == hash }, &self)
        } else {
            strategy.advance(target, stable: stable, &self)
        }
    }

    /// Settled on stable: nothing left to abort, pause or promote. Landing
    /// here from an update (the template reverted to stable's) is a rollback.
    mutating func settle(_ strategy: any StrategyPlanner, stable: ReplicaSet) {
        let hash = stable.podTemplateHash
        if old.currentPodHash != nil, old.currentPodHash != hash, old.stableRS == hash {
            plan.event(.rolloutUpdated, "Rolled back to the stable template (revision \(stable.revision ?? 0)) without its steps or analysis")
        }
        update.finish(at: strategy.settledPosition)
        strategy.settle(stable: stable, &self)
    }
}
