import AviaryAPI
import KubeAPI

extension RolloutReport {
    /// What a report is made from: the cluster's objects as read, plus what
    /// Prometheus said (if anything) and the time. Anything in here may be
    /// garbage; the builder never traps on it.
    public struct Input: Sendable {
        public var rollout: Rollout
        /// The Rollout's ReplicaSets (the CLI applies the controller's ownership rule).
        public var replicaSets: [ReplicaSet]
        public var analysisRuns: [AnalysisRun]
        public var events: [ReportEvent]
        /// The revision to report on; nil: the last update.
        public var revision: Int?
        public var series: [MetricSeries]
        public var notes: [String]
        public var now: KubeTime
        /// The config snapshots the update's and the previous ReplicaSet name, as the CLI
        /// read them (`configSnapshotsToRead` says which); an unread one counts as unreadable.
        public var configSnapshots: [ConfigDiff.Snapshot] = []

        public init(rollout: Rollout, replicaSets: [ReplicaSet], analysisRuns: [AnalysisRun], events: [ReportEvent],
                    revision: Int? = nil, series: [MetricSeries] = [], notes: [String] = [], now: KubeTime) {
            self.rollout = rollout
            self.replicaSets = replicaSets
            self.analysisRuns = analysisRuns
            self.events = events
            self.revision = revision
            self.series = series
            self.notes = notes
            self.now = now
        }
    }

    /// The update a report is about, before anything is measured: its
    /// ReplicaSet, the one before it, and its window. The CLI asks for this
    /// first, to know which window to query Prometheus over.
    public struct Scope: Sendable {
        public var target: ReplicaSet
        public var hash: String
        public var previous: ReplicaSet?
        public var start: KubeTime?
        /// The end of the window: the next revision's start, or now.
        public var end: KubeTime
    }

    public static func scope(_ input: Input) throws(ReportError) -> Scope {
        let r = input.rollout
        let name = r.metadata.name ?? ""
        let sets = input.replicaSets.prefix(maxReplicaSets).filter { ($0.podTemplateHash ?? "").isEmpty == false }
            .sorted { ($0.revision ?? 0, $0.metadata.name ?? "") > ($1.revision ?? 0, $1.metadata.name ?? "") }
        guard !sets.isEmpty else { throw .noReplicaSets(rollout: name) }
        let target: ReplicaSet
        if let n = input.revision {
            guard let rs = sets.first(where: { $0.revision == n }) else {
                throw .noSuchRevision(n, existing: Array(Set(sets.compactMap(\.revision))).sorted())
            }
            target = rs
        } else if let current = r.status?.currentPodHash, let rs = sets.first(where: { $0.podTemplateHash == current }) {
            target = rs
        } else if let newest = sets.first {
            target = newest
        } else {
            throw .noReplicaSets(rollout: name)
        }
        let hash = target.podTemplateHash ?? ""
        let revision = target.revision ?? 0
        let older = sets.filter { $0.podTemplateHash != hash && ($0.revision ?? 0) < revision }
        let runs = input.analysisRuns.prefix(maxRuns * 4)
        let hasRuns = runs.contains { $0.metadata.labels?[podTemplateHashLabel] == hash }
        // The first deployment is no update: nothing came before it.
        guard !older.isEmpty || hasRuns || revision > 1 else { throw .noUpdateYet(rollout: name, revision: target.revision) }
        let previous: ReplicaSet?
        if r.status?.stableRS != hash, let stable = sets.first(where: { $0.podTemplateHash == r.status?.stableRS }), (stable.revision ?? 0) < revision || input.revision == nil {
            previous = stable
        } else {
            // The newest older revision whose own update was not aborted by analysis.
            let failed = Set(runs.filter { $0.phase == .Failed || $0.phase == .Error }.compactMap { $0.metadata.labels?[podTemplateHashLabel] })
            previous = older.first { !failed.contains($0.podTemplateHash ?? "") } ?? older.first
        }
        let next = sets.filter { ($0.revision ?? 0) > revision }.min { ($0.revision ?? 0) < ($1.revision ?? 0) }
        let hashRuns = runs.filter { $0.metadata.labels?[podTemplateHashLabel] == hash }
        let now = ReportTime.sane(input.now) ?? KubeTime(secondsSinceEpoch: 0)
        let start = ReportTime.sane(target.metadata.creationTimestamp) ?? hashRuns.compactMap(runStart).min()
        var end = ReportTime.sane(next?.metadata.creationTimestamp) ?? now
        if let s = start, end < s { end = now < s ? s : now }
        return Scope(target: target, hash: hash, previous: previous, start: start, end: end)
    }

    public static func build(_ input: Input) throws(ReportError) -> RolloutReport {
        let scope = try scope(input)
        let r = input.rollout
        let s = r.status
        let name = r.metadata.name ?? ""
        let hash = scope.hash
        let target = scope.target
        let isCurrent = s?.currentPodHash == hash
        let now = ReportTime.sane(input.now) ?? KubeTime(secondsSinceEpoch: 0)
        let canary = r.spec.strategy?.canary

        // The update's objects.
        let runs = input.analysisRuns.prefix(maxRuns * 4).filter { $0.metadata.labels?[podTemplateHashLabel] == hash }
            .sorted { (runStart($0)?.secondsSinceEpoch ?? Int64.max, $0.metadata.name ?? "") < (runStart($1)?.secondsSinceEpoch ?? Int64.max, $1.metadata.name ?? "") }
            .prefix(maxRuns)
        let windowStart = scope.start.map { saturating($0.secondsSinceEpoch, -2) }
        let windowEnd = saturating(scope.end.secondsSinceEpoch, 2)
        var events = input.events.filter { $0.concerns("Rollout", name: name, uid: r.metadata.uid) }
            .filter { e in
                guard let t = e.micros else { return false }
                let sec = t / 1_000_000
                return (windowStart.map { sec >= $0 } ?? true) && sec <= windowEnd
            }
            .sorted { ($0.micros ?? 0) < ($1.micros ?? 0) }
            .suffix(maxEvents)
        // The update began with its first event (to the microsecond, where the ReplicaSet's creation has whole
        // seconds): what came before it belongs to the update before.
        let anchor = events.first { e in
            let message = e.message ?? ""
            return (e.reason == "RolloutUpdated" && message.contains("hash \(hash)")) || (e.reason == "NewReplicaSetCreated" && mentions(e, target))
        }
        if let from = anchor?.micros { events = events.drop { ($0.micros ?? Int64.min) < from } }

        // How it ended.
        let failedRun = runs.filter { $0.phase == .Failed || $0.phase == .Error }
            .min { (ReportTime.sane($0.status?.completedAt)?.secondsSinceEpoch ?? Int64.max) < (ReportTime.sane($1.status?.completedAt)?.secondsSinceEpoch ?? Int64.max) }
        let abortEvent = events.first { $0.reason == "RolloutAborted" }
        let promotedEvent = events.first { ($0.reason == "RolloutPromoted" || $0.reason == "RolloutCompleted") && mentions($0, target) }
        let outcome: Outcome
        if isCurrent {
            outcome = s?.stableRS == hash ? .promoted : s?.abort == true ? .aborted : .inProgress
        } else if s?.stableRS == hash || promotedEvent != nil {
            outcome = .promoted
        } else if abortEvent != nil || failedRun != nil {
            outcome = .aborted
        } else {
            outcome = .superseded
        }
        var endedAt: KubeTime?
        switch outcome {
        case .aborted:
            endedAt = (isCurrent ? ReportTime.sane(s?.abortedAt) : nil) ?? abortEvent.flatMap(seconds) ?? ReportTime.sane(failedRun?.status?.completedAt)
        case .promoted:
            endedAt = promotedEvent.flatMap(seconds) ?? (isCurrent ? ReportTime.sane(s?.condition(.Completed)?.lastTransitionTime) : nil)
        case .inProgress, .superseded:
            endedAt = nil
        }

        // The timeline.
        var timeline: [Entry] = []
        let after = version(target)
        let before = scope.previous.map(version)
        var startText = "update started: revision \(after.revision.map(String.init) ?? "?") (\(imagesText(after)))"
        if let before { startText += ", replacing revision \(before.revision.map(String.init) ?? "?") (\(imagesText(before)))" }
        timeline.append(Entry(time: anchor?.micros.map(MicroTime.init(microsecondsSinceEpoch:)) ?? scope.start.map(micro), kind: .started, text: startText, warning: false))
        var rollbackDone: MicroTime?
        for e in events {
            let reason = e.reason ?? ""
            let message = clipped(e.message ?? "")
            var kind: Entry.Kind
            switch reason {
            case "RolloutStepCompleted": kind = .step
            case "RolloutPaused": kind = .pause
            case "RolloutResumed": kind = .resume
            case "RolloutAborted", "ProgressDeadlineExceeded": kind = .aborted
            case "RolloutPromoting", "RolloutPromoted": kind = .promoted
            case "RolloutCompleted": kind = .completed
            case "RolloutRollingBack", "RolloutRollback", "RolloutRetry", "RolloutUpdated", "SwitchService", "TrafficRouteRestored": kind = .other
            case "AnalysisRunRunning": kind = .analysisStarted
            case "AnalysisRunSuccessful", "AnalysisRunFailed", "AnalysisRunError", "AnalysisRunInconclusive": kind = .analysisFinished
            case "ScalingReplicaSet":
                // The end of going back: the aborted version's ReplicaSet scaled to nothing.
                guard outcome == .aborted, rollbackDone == nil, let rsName = target.metadata.name, message.contains("ReplicaSet \(rsName) "),
                      message.hasSuffix(" to 0"), let t = e.micros.map(MicroTime.init(microsecondsSinceEpoch:)) else { continue }
                let abortMicros = abortEvent?.micros ?? endedAt.map { micro($0).microsecondsSinceEpoch } ?? Int64.min
                guard t.microsecondsSinceEpoch >= abortMicros else { continue }
                rollbackDone = t
                timeline.append(Entry(time: t, kind: .rollback, text: "rollback finished: \(message)", warning: false))
                continue
            default: continue
            }
            timeline.append(Entry(time: e.micros.map(MicroTime.init(microsecondsSinceEpoch:)), kind: kind, text: message, warning: e.isWarning))
        }
        // A run's start and end from the run itself where no event says them (events have microseconds, a run's times whole
        // seconds, so events keep the order; they expire, the run stays).
        for run in runs {
            let runName = clipped(run.metadata.name ?? "?")
            let token = "run \(run.metadata.name ?? "?") "
            let said = events.filter { ($0.reason ?? "").hasPrefix("AnalysisRun") && ($0.message ?? "").contains(token) }
            let slot = run.metadata.labels?[analysisStepLabel].map { " (\(slotText($0)))" } ?? ""
            if !said.contains(where: { $0.reason == "AnalysisRunRunning" }) {
                timeline.append(Entry(time: runStart(run).map(micro), kind: .analysisStarted, text: "analysis run \(runName) started\(slot)", warning: false))
            }
            if run.phase.isTerminal, !said.contains(where: { $0.reason != "AnalysisRunRunning" }) {
                let detail = run.status?.message.map { ": \(clipped($0))" } ?? ""
                timeline.append(Entry(time: ReportTime.sane(run.status?.completedAt).map(micro), kind: .analysisFinished,
                                      text: "analysis run \(runName) \(run.phase.rawValue)\(detail)", warning: run.phase != .Successful))
            }
        }
        if outcome == .aborted, abortEvent == nil, let at = endedAt {
            timeline.append(Entry(time: micro(at), kind: .aborted, text: "update aborted", warning: true))
        }
        timeline = sortedByTime(timeline)

        // What triggered an abort.
        var trigger: Trigger?
        if outcome == .aborted {
            if let run = failedRun {
                trigger = Self.trigger(run)
            } else if let deadline = events.first(where: { $0.reason == "ProgressDeadlineExceeded" }) {
                trigger = Trigger(cause: "progress deadline exceeded: \(clipped(deadline.message ?? ""))", values: [])
            } else {
                trigger = Trigger(cause: "aborted by a user (status.abort set, e.g. by `kubectl aviary abort`), not by analysis", values: [])
            }
        }

        // How long the new version had traffic, and how much.
        var traffic: Traffic?
        if outcome == .aborted || outcome == .inProgress {
            let reached = isCurrent ? s?.currentStepIndex : events.compactMap { stepNumber($0.message ?? "") }.max()
            var weight = canary.map { maxWeight($0, through: reached) } ?? 0
            if isCurrent, s?.abort != true, let w = s?.canary?.weights?.canary.weight { weight = max(weight, min(max(w, 0), 100)) }
            // Traffic began when the first step that set a weight completed (an event says when), else with the update.
            let firstWeight = events.first { $0.reason == "RolloutStepCompleted" && (setWeight(in: $0.message ?? "") ?? 0) > 0 }
            let since = firstWeight.flatMap(seconds) ?? scope.start
            // It ended with the abort, or under a gradual rollback when the canary's weight came down to 0.
            let gradualEnd = events.last { $0.reason == "RolloutRollingBack" && ($0.message ?? "").contains("canary weight 0,") }
            let until = outcome == .aborted ? (gradualEnd.flatMap(seconds) ?? endedAt) : now
            traffic = Traffic(maxWeight: weight, since: since, until: until, seconds: span(since, until))
        }

        let reportRuns = runs.map(Self.run)
        let reportEvents = events.map {
            Event(time: $0.micros.map(MicroTime.init(microsecondsSinceEpoch:)), type: clipped($0.type ?? "", 20),
                  reason: clipped($0.reason ?? "", 80), message: clipped($0.message ?? ""))
        }
        return RolloutReport(
            rollout: clipped(name, 253), namespace: clipped(r.metadata.namespace ?? "", 63),
            strategy: r.spec.strategy?.blueGreen != nil && canary == nil ? "BlueGreen" : "Canary",
            revision: target.revision, outcome: outcome, startedAt: scope.start, endedAt: endedAt,
            before: before, after: after, trigger: trigger, traffic: traffic, timeline: timeline,
            runs: Array(reportRuns), events: Array(reportEvents),
            series: Array(input.series.prefix(MetricSeries.maxSeries)), configuration: configuration(scope, input),
            notes: input.notes.prefix(20).map { clipped($0) },
            generatedAt: now)
    }

    // MARK: parts

    /// The snapshots worth reading for the configuration part: those of the
    /// update and of the version before it that differ by name (an immutable
    /// snapshot's name stands for its content, so equal names need no read).
    public static func configSnapshotsToRead(_ scope: Scope) -> [ConfigObjectRef] {
        guard let previous = scope.previous, tracksConfig(previous), tracksConfig(scope.target) else { return [] }
        let before = Set(ConfigTracking.snapshots(of: previous)), after = Set(ConfigTracking.snapshots(of: scope.target))
        return before.symmetricDifference(after).sorted().prefix(ConfigDiff.maxSources).map { $0 }
    }

    static func tracksConfig(_ rs: ReplicaSet) -> Bool { rs.metadata.annotations?[ConfigTracking.replicaSetAnnotation] != nil }

    /// Which tracked sources changed from the previous version to the update's, by key name.
    static func configuration(_ scope: Scope, _ input: Input) -> [ConfigChange]? {
        guard let previous = scope.previous, tracksConfig(previous), tracksConfig(scope.target) else { return nil }
        let read = Dictionary(input.configSnapshots.map { ($0.ref, $0) }, uniquingKeysWith: { a, _ in a })
        func side(_ rs: ReplicaSet) -> ConfigDiff.Side {
            ConfigDiff.Side(revision: rs.revision ?? 0, replicaSet: rs,
                            snapshots: ConfigTracking.snapshots(of: rs).map { read[$0] ?? ConfigDiff.Snapshot(ref: $0, error: "not read") })
        }
        let diff = ConfigDiff.build(rollout: "", namespace: "", from: side(previous), to: side(scope.target))
        return diff.sources.filter { $0.state != .unchanged }.map { s in
            func names(_ c: ConfigDiff.Change) -> [String] { s.keys.filter { $0.change == c }.map(\.key) }
            return ConfigChange(kind: s.kind, source: s.source, state: s.state.rawValue,
                                added: names(.added), removed: names(.removed), changed: names(.changed), note: s.note)
        }
    }

    /// One line per source: "ConfigMap web-config: ~ LOG_LEVEL, + NEW_FLAG".
    static func configText(_ c: ConfigChange) -> String {
        let keys = c.added.map { "+ \($0)" } + c.removed.map { "- \($0)" } + c.changed.map { "~ \($0)" }
        var text = "\(c.kind.rawValue) \(c.source): "
        switch c.state {
        case "added": text += "added"
        case "removed": text += "no longer used"
        case "unreadable": text += "changed"
        default: text += keys.isEmpty ? "changed" : keys.joined(separator: ", ")
        }
        if c.state == "added" || c.state == "removed", !keys.isEmpty { text += " (" + keys.joined(separator: ", ") + ")" }
        if let note = c.note { text += " (\(note))" }
        return text
    }

    static func trigger(_ run: AnalysisRun) -> Trigger {
        let results = (run.status?.metricResults ?? []).prefix(maxMetricsPerRun)
        let bad = results.first { ($0.phase == .Failed || $0.phase == .Error) && $0.dryRun != true }
            ?? results.first { $0.phase == .Failed || $0.phase == .Error }
        let runName = clipped(run.metadata.name ?? "?")
        guard let bad else {
            return Trigger(cause: "analysis run \(runName) \(run.phase.rawValue)", run: runName, phase: run.phase.rawValue, values: [],
                           message: run.status?.message.map { clipped($0) })
        }
        let spec = run.spec.metrics.prefix(maxMetricsPerRun).first { $0.name == bad.name }
        let isError = bad.phase == .Error
        let limit = isError ? spec?.consecutiveErrorLimit.map { "consecutiveErrorLimit \(intOrString($0))" } ?? "consecutiveErrorLimit \(Metric.defaultConsecutiveErrorLimit)"
                            : spec?.failureLimit.map { "failureLimit \(intOrString($0))" } ?? "failureLimit 0"
        let metric = clipped(bad.name, 200)
        return Trigger(cause: "analysis run \(runName) \(bad.phase.rawValue) on metric \(metric)", run: runName, metric: metric,
                       phase: bad.phase.rawValue, values: values(bad), condition: condition(spec),
                       failed: bad.failed, errors: isError ? bad.consecutiveError ?? bad.error : bad.error, measurements: bad.count,
                       limit: limit, message: (bad.message ?? run.status?.message).map { clipped($0) })
    }

    static func run(_ run: AnalysisRun) -> Run {
        let metrics = (run.status?.metricResults ?? []).prefix(maxMetricsPerRun).map { m in
            Run.Metric(name: clipped(m.name, 200), phase: m.phase.rawValue, successful: m.successful ?? 0, failed: m.failed ?? 0,
                       inconclusive: m.inconclusive ?? 0, errors: m.error ?? 0, count: m.count ?? 0, values: values(m),
                       condition: condition(run.spec.metrics.prefix(maxMetricsPerRun).first { $0.name == m.name }))
        }
        return Run(name: clipped(run.metadata.name ?? "?"), phase: run.phase.rawValue,
                   slot: run.metadata.labels?[analysisStepLabel].map(slotText), startedAt: runStart(run),
                   completedAt: ReportTime.sane(run.status?.completedAt), message: run.status?.message.map { clipped($0) }, metrics: Array(metrics))
    }

    static func version(_ rs: ReplicaSet) -> Version {
        let images = RolloutTree.image(rs).split(separator: ",").prefix(10).map { clipped(String($0), 200) }
        return Version(revision: rs.revision, hash: rs.podTemplateHash.map { clipped($0, 63) }, replicaSet: rs.metadata.name.map { clipped($0, 253) }, images: images)
    }

    static func imagesText(_ v: Version) -> String { v.images.isEmpty ? "no image" : v.images.joined(separator: ", ") }

    /// The last measured values of a metric, oldest first.
    static func values(_ m: MetricResult) -> [String] {
        (m.measurements ?? []).suffix(maxValues).map { clipped($0.value ?? "(\($0.phase.rawValue.lowercased()))", 80) }
    }

    static func condition(_ metric: Metric?) -> String? {
        guard let metric else { return nil }
        var parts: [String] = []
        if let c = metric.successCondition, !c.isEmpty { parts.append("success when \(clipped(c, 300))") }
        if let c = metric.failureCondition, !c.isEmpty { parts.append("failure when \(clipped(c, 300))") }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    static func intOrString(_ v: IntOrString) -> String {
        switch v {
        case .int(let i): return String(i)
        case .string(let s): return clipped(s, 20)
        }
    }

    /// The most traffic weight the steps up to and including `index` set (a canary's steps; 0 for none).
    public static func maxWeight(_ canary: CanaryStrategy, through index: Int?) -> Int {
        let steps = canary.steps ?? []
        guard let index, index >= 0, !steps.isEmpty else { return 0 }
        let last = min(index, steps.count - 1)
        var weight = 0
        for step in steps[...last] {
            if case .setWeight(let w) = step { weight = max(weight, min(max(w, 0), 100)) }
        }
        return weight
    }

    /// "Rollout step 2/5 completed (…)" → 1, the step's index.
    static func stepNumber(_ message: String) -> Int? {
        guard message.hasPrefix("Rollout step ") else { return nil }
        let digits = message.dropFirst("Rollout step ".count).prefix { $0.isNumber }
        guard !digits.isEmpty, digits.count < 6, let n = Int(digits), n > 0 else { return nil }
        return n - 1
    }

    /// "Rollout step 1/5 completed (setWeight 20)" → 20.
    static func setWeight(in message: String) -> Int? {
        guard let r = message.range(of: "(setWeight ") else { return nil }
        let digits = message[r.upperBound...].prefix { $0.isNumber }
        guard !digits.isEmpty, digits.count < 6 else { return nil }
        return Int(digits)
    }

    static func mentions(_ e: ReportEvent, _ rs: ReplicaSet) -> Bool {
        guard let message = e.message else { return false }
        if let name = rs.metadata.name, message.contains("ReplicaSet \(name) ") { return true }
        if let n = rs.revision { return message.contains("revision \(n) ") || message.contains("revision \(n))") }
        return false
    }

    /// The analysis-step label as the controller's messages say it: the one rule `get rollout` uses.
    static func slotText(_ label: String) -> String { RolloutSummary.slotText(label) }

    static func runStart(_ run: AnalysisRun) -> KubeTime? { ReportTime.sane(run.status?.startedAt) ?? ReportTime.sane(run.metadata.creationTimestamp) }

    static func seconds(_ e: ReportEvent) -> KubeTime? {
        e.micros.map { KubeTime(secondsSinceEpoch: $0 / 1_000_000 - ($0 % 1_000_000 < 0 ? 1 : 0)) }
    }

    static func micro(_ t: KubeTime) -> MicroTime {
        let (m, overflow) = t.secondsSinceEpoch.multipliedReportingOverflow(by: 1_000_000)
        return MicroTime(microsecondsSinceEpoch: overflow ? (t.secondsSinceEpoch < 0 ? Int64.min : Int64.max) : m)
    }

    static func span(_ a: KubeTime?, _ b: KubeTime?) -> Int64? {
        guard let a, let b else { return nil }
        let (d, overflow) = b.secondsSinceEpoch.subtractingReportingOverflow(a.secondsSinceEpoch)
        return overflow || d < 0 ? nil : d
    }

    static func saturating(_ a: Int64, _ b: Int64) -> Int64 {
        let (v, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b < 0 ? Int64.min : Int64.max) : v
    }

    /// By time, stable (entries without a time last), so events of one instant keep their order.
    static func sortedByTime(_ entries: [Entry]) -> [Entry] {
        entries.enumerated().sorted { a, b in
            let ta = a.element.time?.microsecondsSinceEpoch ?? Int64.max, tb = b.element.time?.microsecondsSinceEpoch ?? Int64.max
            return ta != tb ? ta < tb : a.offset < b.offset
        }.map(\.element)
    }

    static func clipped(_ text: String, _ limit: Int = maxTextLength) -> String { ReportText.clip(text, limit) }
}
