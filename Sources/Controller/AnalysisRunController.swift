import Analysis
import AviaryAPI
import Foundation
import Kube
import Logging

/// Runs AnalysisRuns: takes each metric's measurements when they are due,
/// judges them, and writes the run's status. It has its own work queue and
/// workers, and its measurements their own bulkhead, so a slow Prometheus
/// never holds up rollout reconciles.
///
/// A reconcile: read the run from the cache → `RunSchedule.due` (pure) →
/// measure what is due, concurrently → `RunRecorder` (pure) → patch status.
public final class AnalysisRunController: Sendable {
    let client: KubeClient
    let runs: Informer<AnalysisRun>
    let queue = WorkQueue(name: "analysisruns")
    let measurer: Measurer
    let workers: Int
    let logger: Logger
    /// How often a running Job measurement is looked at.
    static let jobPoll = 2.0

    public init(client: KubeClient, runs: Informer<AnalysisRun>, workers: Int, measurementLimit: Int, logger: Logger) {
        self.client = client
        self.runs = runs
        self.workers = workers
        self.logger = logger
        measurer = Measurer(client: client, bulkhead: Bulkhead(limit: measurementLimit))
    }

    /// Called for every change of a run (the Rollout controller's informer feeds it).
    func runChanged(_ run: AnalysisRun) {
        guard !run.phase.isTerminal || run.spec.terminate == true && run.status?.completedAt == nil else { return }
        let key = Informer<AnalysisRun>.key(run)
        Task { await queue.add(key) }
    }

    /// Workers until cancelled; call once the runs informer has synced.
    func run() async {
        for r in runs.all() { runChanged(r) }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, workers) { group.addTask { await self.work() } }
            await withTaskCancellationHandler {
                await group.waitForAll()
            } onCancel: {
                Task { await self.queue.shutDown() }
            }
        }
    }

    func work() async {
        await queue.work(logger: logger, timer: ControllerMetrics.analysisReconcile, errors: ControllerMetrics.analysisReconcileErrors) { try await reconcile($0) }
    }

    /// One pass over a run. Returns when to look again.
    func reconcile(_ key: String) async throws -> Double? {
        guard let run = runs.get(key), run.metadata.deletionTimestamp == nil else { return nil }
        let old = run.status ?? AnalysisRunStatus()
        if old.phase?.isTerminal == true, old.completedAt != nil { return nil }
        let now = KubeTime.now()
        var status = old.startedAt == nil ? RunRecorder.start(run.spec, now: now) : old

        let plans: [MetricPlan]
        do {
            plans = try run.spec.metrics.map(MetricPlan.init)
        } catch {
            // A bad template never crashes: the run ends in Error and says where.
            status.phase = .Error
            status.message = "\(error)"
            status.completedAt = now
            try await write(status, of: run)
            return nil
        }

        if run.spec.terminate != true {
            let (work, next) = RunSchedule.due(plans, status: status, now: now)
            let taken = await measure(work, plans: plans, run: run, status: status, now: now)
            for (name, m) in taken {
                if m.phase != .Running { ControllerMetrics.measurement(metric: name, phase: m.phase.rawValue) }
                guard let plan = plans.first(where: { $0.name == name }) else { continue }
                RunRecorder.record(m, of: plan, in: &status, retention: run.spec.retention(name))
            }
            RunRecorder.finish(&status, plans: plans, terminate: false, now: now)
            try await write(status, of: run)
            guard status.phase?.isTerminal != true else { return nil }
            let jobRunning = status.metricResults?.contains { $0.measurements?.last?.phase == .Running } ?? false
            let wake = next.map { Double($0 - KubeTime.now().secondsSinceEpoch) }
            return [wake, jobRunning ? Self.jobPoll : nil].compactMap { $0 }.min().map { max($0, 0.2) }
        }
        RunRecorder.finish(&status, plans: plans, terminate: true, now: now)
        try await write(status, of: run)
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
                        let number = (status.result(name)?.count ?? 0) + 1
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
        let before = try JSONValue(encoding: run.status ?? AnalysisRunStatus())
        let after = try JSONValue(encoding: status)
        guard let diff = JSONValue.mergePatch(from: before, to: after) else { return }
        let patch: JSONValue = ["metadata": ["resourceVersion": .string(run.metadata.resourceVersion ?? "")], "status": diff]
        let written: AnalysisRun = try await client.patch(AnalysisRun.resource, run.metadata.name ?? "", namespace: run.metadata.namespace,
                                                          .merge(patch), subresource: "status")
        runs.store(written)
    }
}
