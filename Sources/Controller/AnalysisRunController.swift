import Analysis
import AviaryAPI
import Foundation
import Kube
import Logging
import Synchronization

/// Runs AnalysisRuns: takes each metric's measurements when they are due,
/// judges them, and writes the run's status. It has its own work queue and
/// workers, and its measurements their own bulkhead, so a slow Prometheus
/// never holds up rollout reconciles.
///
/// A reconcile: read the run from the cache → `RunSchedule.due` (pure) →
/// measure what is due, concurrently → `RunRecorder` (pure) → patch status.
///
/// Fair across namespaces: a namespace holds at most its `FairShare` of the
/// workers (the workers split evenly across the namespaces being worked on,
/// and never more than three quarters of them); a run whose namespace is at
/// its share is looked at again in `deferral` seconds instead of taking a
/// worker. Its measurements likewise share the bulkhead fairly (`Bulkhead`).
public final class AnalysisRunController: Sendable {
    let client: KubeClient
    let runs: Informer<AnalysisRun>
    let queue = WorkQueue<ObjectKey>(name: "analysisruns")
    let measurer: Measurer
    let workers: Int
    let logger: Logger
    let shares: Mutex<FairShare>
    /// Says so on runs that do not decode; its executor's fence closes when leadership is lost.
    let reporter: UndecodableReporter
    /// How often a running Job measurement is looked at.
    static let jobPoll = 2.0
    /// How soon a run put back for fairness is looked at again.
    static let deferral = 0.5

    /// `providerAllow` (`--provider-allow`): where providers may send requests
    /// (nil: anywhere); `providerMaxResponseBytes` (`--provider-max-response-bytes`):
    /// the largest provider answer kept.
    init(client: KubeClient, runs: Informer<AnalysisRun>, workers: Int, measurementLimit: Int,
                providerAllow: AddressPolicy? = nil, providerMaxResponseBytes: Int = ProviderSettings.defaultMaxResponseBytes,
                reporter: UndecodableReporter, pods: PodSource? = nil, logger: Logger) {
        self.client = client
        self.reporter = reporter
        self.runs = runs
        self.workers = workers
        self.logger = logger
        shares = Mutex(FairShare(limit: max(1, workers)))
        measurer = Measurer(client: client,
                            bulkhead: Bulkhead(limit: measurementLimit, perKeyLimit: Bulkhead.fairPerKeyLimit(measurementLimit)),
                            settings: ProviderSettings(allow: providerAllow, maxResponseBytes: providerMaxResponseBytes), pods: pods)
    }

    /// Called for every change of a run (the Rollout controller's informer feeds it).
    func runChanged(_ run: AnalysisRun) {
        let expires = RunExpiry.deleteAt(run.spec, status: run.status) != nil
        guard !run.phase.isTerminal || expires || run.spec.terminate == true && run.status?.completedAt == nil else { return }
        queue.add(Informer<AnalysisRun>.key(run))
    }

    /// A run that does not decode: its worker says so on it.
    func undecodableChanged(_ u: Undecodable) {
        queue.add(ObjectKey(u.metadata))
    }

    /// Workers until cancelled; call once the runs informer has synced.
    func run() async {
        for r in runs.all() { runChanged(r) }
        for u in runs.allUndecodable() { undecodableChanged(u) }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, workers) { group.addTask { await self.work() } }
            await withTaskCancellationHandler {
                await group.waitForAll()
            } onCancel: {
                self.queue.shutDown()
            }
        }
    }

    func work() async {
        await queue.work(logger: logger, timer: ControllerMetrics.analysisReconcile, errors: ControllerMetrics.analysisReconcileErrors) { try await reconcile($0) }
    }

    /// One pass over a run, within its namespace's fair share of the workers. Returns when to look again.
    func reconcile(_ key: ObjectKey) async throws -> Double? {
        let namespace = key.namespace ?? ""
        guard shares.withLock({ $0.take(namespace) }) else { return Self.deferral }
        defer { shares.withLock { $0.give(namespace) } }
        return try await reconcileRun(key)
    }

    func reconcileRun(_ key: ObjectKey) async throws -> Double? {
        guard let run = runs.get(key), run.metadata.deletionTimestamp == nil else {
            if let u = runs.undecodable(key), u.metadata.deletionTimestamp == nil { try await reporter.run(u) }
            return nil
        }
        let old = run.status ?? AnalysisRunStatus()
        if old.phase?.isTerminal == true, old.completedAt != nil { return try await expire(run) }
        let now = KubeTime.now()
        var status = old.startedAt == nil ? RunRecorder.start(run.spec, now: now) : old

        let plans: [MetricPlan]
        let verdict: Verdict?
        do {
            plans = try run.spec.metrics.map(MetricPlan.init)
            try RunExpiry.check(run.spec.ttlStrategy)
            verdict = try Verdict.of(run.spec)
        } catch {
            // A bad template never crashes: the run ends in Error and says where.
            status.phase = .Error
            status.message = ValueText.truncated("\(error)")
            status.completedAt = now
            try await write(status, of: run)
            return nil
        }

        if run.spec.terminate != true {
            // A follower that lost the Lease starts no measurement (a Job measurement creates a Job).
            try reporter.executor.fence.check()
            let (work, next) = RunSchedule.due(plans, status: status, now: now)
            let taken = await measure(work, plans: plans, run: run, status: status, now: now)
            for (name, m) in taken {
                if m.phase != .Running { ControllerMetrics.measurement(metric: name, phase: m.phase.rawValue) }
                guard let plan = plans.first(where: { $0.name == name }) else { continue }
                RunRecorder.record(m, of: plan, in: &status, retention: run.spec.retention(name))
            }
            RunRecorder.finish(&status, plans: plans, terminate: false, now: now, verdict: verdict)
            try await write(status, of: run)
            guard status.phase?.isTerminal != true else { return nil }
            let jobRunning = status.metricResults?.contains { $0.measurements?.last?.phase == .Running } ?? false
            let wake = next.map { Double($0) - Double(KubeTime.now().secondsSinceEpoch) }
            return [wake, jobRunning ? Self.jobPoll : nil].compactMap { $0 }.min().map { min(max($0, 0.2), 86_400) }
        }
        RunRecorder.finish(&status, plans: plans, terminate: true, now: now, verdict: verdict)
        try await write(status, of: run)
        return nil
    }

    /// `spec.ttlStrategy`: deletes a finished run once its time is up (only
    /// this run: the uid is a precondition), or says when to look again.
    func expire(_ run: AnalysisRun) async throws -> Double? {
        guard let at = RunExpiry.deleteAt(run.spec, status: run.status) else { return nil }
        let wait = at - KubeTime.now().secondsSinceEpoch
        guard wait <= 0 else { return Double(min(wait, 86_400)) }
        try reporter.executor.fence.check()
        do {
            try await client.delete(AnalysisRun.resource, run.metadata.name ?? "", namespace: run.metadata.namespace,
                                    options: DeleteOptions(preconditions: .init(uid: run.metadata.uid)))
            logger.info("deleted AnalysisRun after its ttlStrategy", metadata: ["namespace": "\(run.metadata.namespace ?? "")",
                                                                                 "analysisrun": "\(run.metadata.name ?? "")"])
        } catch let e as KubeError where e.isNotFound || e.code == 409 {
            // Already gone, or replaced by a new run of the same name: nothing of ours to delete.
        }
        return nil
    }

    /// Takes the due measurements concurrently; each returns on its own timeout.
    func measure(_ work: [RunSchedule.Work], plans: [MetricPlan], run: AnalysisRun, status: AnalysisRunStatus,
                 now: KubeTime) async -> [(String, AnalysisMeasurement)] {
        await withTaskGroup(of: (String, AnalysisMeasurement)?.self) { group in
            for item in work {
                group.addTask { [measurer] in
                    switch item {
                    case .measure(let name):
                        guard let metric = run.spec.metrics.first(where: { $0.name == name }),
                              let plan = plans.first(where: { $0.name == name }) else { return nil }
                        let taken = status.result(name)?.count ?? 0
                        let number = taken < Int.max ? max(0, taken) + 1 : taken
                        return (name, await measurer.measure(metric, plan: plan, run: run, number: number, now: now))
                    case .resume(let name, let running):
                        let m = await measurer.resume(running, run: run)
                        return m == running ? nil : (name, m)
                    }
                }
            }
            var out: [(String, AnalysisMeasurement)] = []
            for await r in group { if let r { out.append(r) } }
            return out.sorted { $0.0 < $1.0 }
        }
    }

    /// Patches only what changed, guarded by the resourceVersion read.
    func write(_ status: AnalysisRunStatus, of run: AnalysisRun) async throws {
        try reporter.executor.fence.check()
        let read = run.status ?? AnalysisRunStatus()
        let before = try JSONValue.patchBase(read, repaired: read.repairs.value)
        let after = try JSONValue(encoding: status)
        guard let diff = JSONValue.mergePatch(from: before, to: after) else { return }
        let patch: JSONValue = ["metadata": ["resourceVersion": .string(run.metadata.resourceVersion ?? "")], "status": diff]
        let written: AnalysisRun = try await client.patch(AnalysisRun.resource, run.metadata.name ?? "", namespace: run.metadata.namespace,
                                                          .merge(patch), subresource: "status")
        runs.store(written)
    }
}
