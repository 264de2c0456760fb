import AviaryAPI
import Foundation
import KubeAPI

extension RolloutSummary {
    /// Reads a Rollout and its family (as `Ownership.family` picks it) into
    /// the summary. Pure and total: hostile status fields are clamped or cut,
    /// never trusted as indices.
    public init(_ input: RolloutTree.Input) {
        let r = input.rollout
        let s = r.status
        let canary = r.spec.strategy?.canary
        let stable = s?.stableRS, current = s?.currentPodHash
        name = clipText(r.metadata.name ?? "", 253)
        namespace = clipText(r.metadata.namespace ?? "", 253)
        createdAt = r.metadata.creationTimestamp
        (icon, phase) = Self.mark(RolloutTree.phase(r))
        message = s?.message.flatMap { $0.isEmpty ? nil : clipText($0, Self.maxText) }
        paused = r.spec.paused == true || !(s?.pauseConditions ?? []).isEmpty
        aborted = s?.abort == true
        routes = []
        weightVerified = nil
        if let canary {
            let count = canary.steps?.count ?? 0
            strategy = "Canary"
            traffic = clipText(TrafficText.router(canary), Self.maxText)
            routed = canary.trafficRouting != nil
            step = min(max(0, s?.currentStepIndex ?? 0), count)
            stepCount = count
            if routed {
                // Set: what the steps ask for now; actual: what the controller put on the router, and whether it read it back.
                setWeight = RolloutTree.routedSetWeight(canary, s)
                let weights = s?.canary?.weights
                actualWeight = current != nil && current == stable ? TrafficText.maxWeight(canary) : weights?.canary.weight ?? 0
                weightVerified = weights.map { $0.verified == true }
                routes = (s?.canary?.managedRoutes ?? []).prefix(100).map { clipText($0, 253) }
            } else {
                setWeight = s?.canary?.weights?.canary.weight ?? 0
                let canaryAvail = input.replicaSets.first { $0.podTemplateHash == current }?.availableReplicas ?? 0
                let total = input.replicaSets.reduce(0) { $0.addingReportingOverflow($1.availableReplicas).partialValue }
                // Aborted, no Service selects the canary's pods any more; completed, the canary is stable and serves all.
                actualWeight = s?.abort == true || total <= 0 ? 0 : current == stable ? 100 : min(100, max(0, canaryAvail.multipliedReportingOverflow(by: 100).partialValue / total))
            }
            rollback = TrafficText.rollback(canary, s).map { clipText($0, Self.maxText) }
            abortStrategy = TrafficText.abortStrategy(canary)
            stage = nil
            steps = Self.steps(canary, input)
        } else {
            strategy = "BlueGreen"
            traffic = nil
            routed = false
            step = nil
            stepCount = nil
            setWeight = nil
            actualWeight = nil
            rollback = nil
            abortStrategy = nil
            stage = s?.blueGreen?.stage?.rawValue
            steps = []
        }
        let sets = input.replicaSets.prefix(Self.maxReplicaSets)
        images = sets.filter { $0.desiredReplicas > 0 || $0.podTemplateHash == current }
            .sorted { ($0.revision ?? 0) > ($1.revision ?? 0) }
            .map { Image(image: clipText(RolloutTree.image($0), 1_024), role: RolloutTree.role($0, r)) }
        replicas = Replicas(desired: r.spec.effectiveReplicas, current: s?.replicas ?? 0, updated: s?.updatedReplicas ?? 0,
                            ready: s?.readyReplicas ?? 0, available: s?.availableReplicas ?? 0)
        let runs = input.runs.prefix(Self.maxRuns * 4).sorted { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }
        var revisions: [Revision] = []
        for rs in sets.sorted(by: { ($0.revision ?? 0) > ($1.revision ?? 0) }) {
            let view = Self.replicaSet(rs, r, pods: input.pods)
            let names = runs.filter { $0.metadata.labels?[podTemplateHashLabel] == rs.podTemplateHash }.map { $0.metadata.name ?? "" }
            let n = rs.revision ?? 0
            // ReplicaSets that share a revision number (hand-made ones) stay under one revision.
            if let last = revisions.last, last.revision == n {
                revisions[revisions.count - 1].replicaSets.append(view)
                revisions[revisions.count - 1].analysisRuns += names
            } else {
                revisions.append(Revision(revision: n, replicaSets: [view], analysisRuns: names))
            }
        }
        self.revisions = revisions
        let revisionOf = Dictionary(sets.compactMap { rs in rs.podTemplateHash.map { ($0, rs.revision ?? 0) } }, uniquingKeysWith: max)
        analysisRuns = runs.prefix(Self.maxRuns).map { Self.run($0, revision: revisionOf) }
        conditions = (s?.conditions ?? []).prefix(20).map {
            Condition(type: $0.type.rawValue, status: $0.status.rawValue, reason: clipText($0.reason, 253),
                      message: clipText($0.message, Self.maxText), lastTransitionTime: $0.lastTransitionTime)
        }
    }

    /// "✔ Healthy" → ("✔", "Healthy").
    static func mark(_ text: String) -> (String, String) {
        guard let space = text.firstIndex(of: " ") else { return ("", text) }
        return (String(text[..<space]), String(text[text.index(after: space)...]))
    }

    static func replicaSet(_ rs: AviaryAPI.ReplicaSet, _ r: Rollout, pods: [KubeAPI.Pod]) -> ReplicaSet {
        let (icon, phase) = mark(RolloutTree.rsState(rs))
        let mine = pods.filter { $0.metadata.labels?[podTemplateHashLabel] == rs.podTemplateHash }
            .sorted { ($0.metadata.name ?? "") < ($1.metadata.name ?? "") }
            .prefix(maxPodsPerReplicaSet)
        return ReplicaSet(
            name: clipText(rs.metadata.name ?? "", 253), podTemplateHash: rs.podTemplateHash.map { clipText($0, 63) },
            role: RolloutTree.role(rs, r), phase: phase, icon: icon, desired: rs.desiredReplicas,
            ready: max(0, rs.status?.readyReplicas ?? 0), available: rs.availableReplicas,
            images: RolloutTree.image(rs).split(separator: ",").prefix(20).map { clipText(String($0), 1_024) },
            createdAt: rs.metadata.creationTimestamp,
            pods: mine.map { pod in
                let ready = pod.isReady
                return Pod(name: clipText(pod.metadata.name ?? "", 253), phase: ready ? "Running" : clipText(pod.status?.phase ?? "Pending", 64),
                           icon: ready ? "✔" : "◌", ready: ready)
            },
            configSnapshots: configSnapshots(rs))
    }

    /// The snapshots the ReplicaSet's annotation names, sorted; nil without the annotation.
    static func configSnapshots(_ rs: AviaryAPI.ReplicaSet) -> [String]? {
        guard rs.metadata.annotations?[ConfigTracking.replicaSetAnnotation] != nil else { return nil }
        let refs = ConfigTracking.snapshots(of: rs).sorted().prefix(maxSnapshots)
        return refs.isEmpty ? nil : refs.map { clipText($0.description, 300) }
    }

    static func run(_ run: AnalysisRun, revision: [String: Int]) -> Run {
        let (icon, phase) = mark(RolloutTree.runState(run))
        let hash = run.metadata.labels?[podTemplateHashLabel]
        let c = run.status?.runSummary
        let results = run.status?.metricResults ?? []
        var metrics = run.spec.metrics.prefix(maxMetricsPerRun).map { m in RunMetric(spec: m, result: results.first { $0.name == m.name }) }
        for result in results where metrics.count < maxMetricsPerRun && !run.spec.metrics.contains(where: { $0.name == result.name }) {
            metrics.append(RunMetric(spec: nil, result: result))
        }
        return Run(
            name: clipText(run.metadata.name ?? "", 253), phase: phase, icon: icon, podTemplateHash: hash.map { clipText($0, 63) },
            revision: hash.flatMap { revision[$0] }, slot: run.metadata.labels?[analysisStepLabel].map(slotText),
            startedAt: run.status?.startedAt, completedAt: run.status?.completedAt,
            message: run.status?.message.flatMap { $0.isEmpty ? nil : clipText($0, maxText) },
            summary: run.status?.summary.flatMap { $0.isEmpty ? nil : clipText($0, maxText) },
            counts: Run.Counts(successful: c?.successful ?? 0, failed: c?.failed ?? 0, inconclusive: c?.inconclusive ?? 0, error: c?.error ?? 0),
            metrics: Array(metrics))
    }

    /// The label the controller puts on a run ("1", "background", "pre", "post") as people say it ("step 2").
    static func slotText(_ label: String) -> String {
        switch label {
        case "background": return "background"
        case "pre": return "pre-promotion"
        case "post": return "post-promotion"
        default:
            guard label.count < 6, let i = Int(label), i >= 0 else { return clipText(label, 40) }
            return "step \(i + 1)"
        }
    }

    /// Each step, with the current one marked and what it waits for.
    static func steps(_ canary: CanaryStrategy, _ input: RolloutTree.Input) -> [Step] {
        let s = input.rollout.status
        let all = (canary.steps ?? []).prefix(maxSteps)
        let index = min(max(0, s?.currentStepIndex ?? 0), all.count)
        let done = s?.currentPodHash != nil && s?.currentPodHash == s?.stableRS && s?.abort != true
        return all.enumerated().map { i, step in
            let (kind, text) = describe(step)
            let state = done || i < index ? "done" : i == index ? "current" : "pending"
            return Step(index: i + 1, kind: kind, text: clipText(text, 1_024), state: state,
                        waitingFor: state == "current" ? waitingFor(step, at: i, canary, input) : nil)
        }
    }

    static func describe(_ step: CanaryStep) -> (String, String) {
        switch step {
        case .setWeight(let w): return ("setWeight", "setWeight \(w)")
        case .pause(let p): return ("pause", p.duration.map { "pause \($0)" } ?? "pause (until promoted)")
        case .setCanaryScale: return ("setCanaryScale", PlanTable.scale(step) ?? "setCanaryScale")
        case .analysis(let a):
            let names = (a.templates ?? []).prefix(10).map(\.templateName)
            return ("analysis", names.isEmpty ? "analysis" : "analysis " + names.joined(separator: ", "))
        case .setHeaderRoute: return ("setHeaderRoute", TrafficText.routeStep(step) ?? "setHeaderRoute")
        case .setMirrorRoute: return ("setMirrorRoute", TrafficText.routeStep(step) ?? "setMirrorRoute")
        case .unsupported(let kinds): return ("unsupported", "unsupported step (\(kinds.prefix(5).joined(separator: ", ")))")
        }
    }

    /// What the current step waits for, in words; nil when it waits for nothing in particular.
    static func waitingFor(_ step: CanaryStep, at i: Int, _ canary: CanaryStrategy, _ input: RolloutTree.Input) -> String? {
        let r = input.rollout
        let s = r.status
        let name = r.metadata.name ?? ""
        if s?.abort == true { return "nothing: the update was aborted (retry with `kubectl aviary retry \(name)`)" }
        if r.spec.paused == true { return "a resume: the Rollout is paused by spec.paused (`kubectl aviary resume \(name)`)" }
        for c in s?.pauseConditions ?? [] {
            switch c.reason {
            case .InconclusiveAnalysisRun: return "a promote or abort: the analysis was inconclusive (`kubectl aviary promote \(name)`)"
            case .AnalysisEscalation: return "an ack, promote or abort: a failed analysis holds the update (`kubectl aviary ack \(name)`)"
            case .CanaryPauseStep, .BlueGreenPause: break
            }
        }
        switch step {
        case .pause(let p):
            let since = s?.pauseConditions?.first { $0.reason == .CanaryPauseStep }?.startTime
            guard let d = p.duration else { return "a promote (`kubectl aviary promote \(name)`)" }
            return "the \(d) pause to end" + (since.map { " (paused since \($0))" } ?? "")
        case .analysis:
            let run = input.runs.first {
                $0.metadata.labels?[podTemplateHashLabel] == s?.currentPodHash && $0.metadata.labels?[analysisStepLabel] == String(i) && !$0.phase.isTerminal
            }
            return run.map { "analysis run \($0.metadata.name ?? "") (\($0.phase.rawValue))" } ?? "its analysis run to start"
        case .setWeight, .setCanaryScale:
            if let rs = input.replicaSets.first(where: { $0.podTemplateHash == s?.currentPodHash }), rs.availableReplicas < rs.desiredReplicas {
                return "canary pods: \(rs.availableReplicas)/\(rs.desiredReplicas) available"
            }
            if canary.trafficRouting != nil, s?.canary?.weights?.verified == false { return "the router to carry the new weight" }
            return nil
        default:
            return nil
        }
    }
}
