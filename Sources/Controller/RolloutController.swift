import AviaryAPI
import Foundation
import Kube
import Logging
import Rollouts

/// The Rollout controller: informers feed a work queue; workers reconcile one
/// Rollout at a time: read the caches → plan (pure) → execute → write status.
///
/// Reading a reconcile from event to API call:
/// 1. an informer sees a change and `enqueue` maps it to a Rollout key;
/// 2. a worker takes the key from the `WorkQueue`;
/// 3. `reconcile` builds a `RolloutView` from the caches and asks `RolloutPlanner.plan`;
/// 4. the `Executor` applies the plan's actions, then patches the status.
public final class RolloutController: Sendable {
    public struct Options: Sendable {
        public var namespace: String?
        public var workers: Int
        /// AnalysisRuns reconciled at once, apart from Rollouts.
        public var analysisWorkers: Int
        /// Measurements in flight at once (the bulkhead).
        public var measurementLimit: Int
        /// Shard: handle only Rollouts labelled `aviary.dev/instance-id=<id>`; without it, only unlabelled ones.
        public var instanceID: String?
        /// Look at every Rollout again this often (seconds; 0: never), whatever the watches say.
        public var resync: Double
        /// `--provider-allow`: where analysis providers may send requests; nil: anywhere.
        public var providerAllow: AddressPolicy?
        /// `--provider-max-response-bytes`: a larger provider answer is an Error measurement.
        public var providerMaxResponseBytes: Int
        public init(namespace: String? = nil, workers: Int = 10, analysisWorkers: Int = 10, measurementLimit: Int = 30,
                    instanceID: String? = nil, resync: Double = 0, providerAllow: AddressPolicy? = nil,
                    providerMaxResponseBytes: Int = 1 << 20) {
            self.namespace = namespace
            self.workers = workers
            self.analysisWorkers = analysisWorkers
            self.measurementLimit = measurementLimit
            self.instanceID = instanceID
            self.resync = resync
            self.providerAllow = providerAllow
            self.providerMaxResponseBytes = providerMaxResponseBytes
        }
    }

    /// The label that shards Rollouts across controllers (`--instance-id`).
    public static let instanceIDLabel = AviaryAPI.instanceIDLabel
    static func rolloutSelector(_ instanceID: String?) -> String {
        instanceID.map { "\(instanceIDLabel)=\($0)" } ?? "!\(instanceIDLabel)"
    }

    let client: KubeClient
    let options: Options
    let logger: Logger
    let rollouts: Informer<Rollout>
    let replicaSets: Informer<ReplicaSet>
    let services: Informer<Service>
    /// Our pods only (by the hash label), indexed by namespace and hash: read for spec.restartAt and role metadata.
    let pods: Informer<Pod>
    /// AnalysisRuns, indexed by their owner's UID; shared with the runner.
    let analysisRuns: Informer<AnalysisRun>
    /// Templates by namespace ("ns:<ns>"), and cluster-wide ones (none in namespaced mode).
    let templates: Informer<AnalysisTemplate>
    let clusterTemplates: Informer<AnalysisTemplate>?
    let runner: AnalysisRunController
    let queue = WorkQueue()
    let executor: Executor
    /// Closed when leadership is lost (`stopLeading`): no write goes out after that.
    public let fence = WriteFence()
    /// Says so on objects that do not decode.
    let reporter: UndecodableReporter
    var caches: Executor.Caches {
        Executor.Caches(replicaSet: { [replicaSets] in replicaSets.store($0) }, service: { [services] in services.store($0) },
                        rollout: { [rollouts] in rollouts.store($0) }, analysisRun: { [analysisRuns] in analysisRuns.store($0) })
    }

    /// Index of ReplicaSets: by controller owner UID, and "orphan:<namespace>" for unowned ones.
    static func owners(_ rs: ReplicaSet) -> [String] {
        if let owner = rs.metadata.ownerReferences?.first(where: { $0.controller == true }) { return [owner.uid] }
        return ["orphan:\(rs.metadata.namespace ?? "")"]
    }

    /// Index of Rollouts: by namespace ("ns:<ns>", for orphan adoption) and by
    /// each Service they name ("svc:<ns>/<name>"), so an event maps to its
    /// Rollouts without scanning them all.
    static func rolloutKeys(_ r: Rollout) -> [String] {
        let ns = r.metadata.namespace ?? ""
        return ["ns:\(ns)"] + serviceNames(r).map { "svc:\(ns)/\($0)" }
    }

    /// The Services a Rollout's strategy names.
    static func serviceNames(_ r: Rollout) -> [String] {
        let c = r.spec.strategy?.canary, bg = r.spec.strategy?.blueGreen
        return [c?.canaryService, c?.stableService, bg?.activeService, bg?.previewService].compactMap { $0 }
    }

    static func controllerUID(_ meta: ObjectMeta) -> [String] {
        meta.ownerReferences?.first(where: { $0.controller == true }).map { [$0.uid] } ?? []
    }

    public init(client: KubeClient, options: Options, logger: Logger = Logger(label: "aviary.controller")) {
        self.client = client
        self.options = options
        self.logger = logger
        let ns = options.namespace
        rollouts = Informer(Reflector(client: client, resource: Rollout.resource, namespace: ns, labelSelector: Self.rolloutSelector(options.instanceID)),
                            index: Self.rolloutKeys)
        // Only ReplicaSets that carry our hash label: never the cluster's others.
        replicaSets = Informer(Reflector(client: client, resource: .replicaSets, namespace: ns, labelSelector: podTemplateHashLabel),
                               index: Self.owners)
        services = Informer(Reflector(client: client, resource: .services, namespace: ns))
        pods = Informer(Reflector(client: client, resource: .pods, namespace: ns, labelSelector: podTemplateHashLabel),
                        index: { [($0.metadata.namespace ?? "") + "/" + ($0.metadata.labels?[podTemplateHashLabel] ?? "")] })
        // Runs carry their Rollout's shard label, so a sharded controller runs only its own.
        analysisRuns = Informer(Reflector(client: client, resource: AnalysisRun.resource, namespace: ns,
                                          labelSelector: Self.rolloutSelector(options.instanceID)),
                                index: { Self.controllerUID($0.metadata) })
        templates = Informer(Reflector(client: client, resource: AnalysisTemplate.resource, namespace: ns),
                             index: { ["ns:\($0.metadata.namespace ?? "")"] })
        clusterTemplates = ns == nil ? Informer(Reflector(client: client, resource: AnalysisTemplate.clusterResource)) : nil
        executor = Executor(client: client, logger: logger, fence: fence)
        reporter = UndecodableReporter(client: client, executor: executor, logger: logger)
        runner = AnalysisRunController(client: client, runs: analysisRuns, workers: options.analysisWorkers,
                                       measurementLimit: options.measurementLimit, providerAllow: options.providerAllow,
                                       providerMaxResponseBytes: options.providerMaxResponseBytes, reporter: reporter, logger: logger)
    }

    /// True once every cache has been filled (what /readyz reports).
    public var hasSynced: Bool {
        rollouts.hasSynced && replicaSets.hasSynced && services.hasSynced && pods.hasSynced && analysisRuns.hasSynced
            && templates.hasSynced && (clusterTemplates?.hasSynced ?? true)
    }

    /// Runs informers at once (a follower keeps warm caches), and workers once
    /// the caches are synced and `leadership` returns. Returns after
    /// `shutDown()`, when in-flight reconciles have finished.
    public func run(leadership: @escaping @Sendable () async throws -> Void = {}) async throws {
        rollouts.onChange { [queue] _, new in
            guard let new else { return }
            Task { await queue.add(Informer<Rollout>.key(new)) }
        }
        replicaSets.onChange { [weak self] old, new in self?.replicaSetChanged(old ?? new) }
        services.onChange { [weak self] old, new in self?.serviceChanged(old ?? new) }
        analysisRuns.onChange { [weak self] old, new in self?.analysisRunChanged(new ?? old) }
        templates.onChange { [weak self] old, new in self?.templateChanged(new ?? old) }
        clusterTemplates?.onChange { [weak self] old, new in self?.templateChanged(new ?? old) }
        // Objects that do not decode: their Rollout looks again, to say so.
        rollouts.onUndecodable { [queue] u, deleted in
            guard !deleted else { return }
            Task { await queue.add(Informer<Rollout>.key(namespace: u.metadata.namespace, name: u.metadata.name ?? "")) }
        }
        analysisRuns.onUndecodable { [weak self] u, deleted in
            if !deleted { self?.runner.undecodableChanged(u) }
            self?.ownerChanged(u.metadata)
        }
        templates.onUndecodable { [weak self] u, _ in self?.templatesChanged(namespace: u.metadata.namespace) }
        clusterTemplates?.onUndecodable { [weak self] _, _ in self?.templatesChanged(namespace: nil) }

        try await withThrowingTaskGroup(of: Void.self) { informers in
            informers.addTask { await self.rollouts.run() }
            informers.addTask { await self.replicaSets.run() }
            informers.addTask { await self.services.run() }
            informers.addTask { await self.pods.run() }
            informers.addTask { await self.analysisRuns.run() }
            informers.addTask { await self.templates.run() }
            if let clusterTemplates { informers.addTask { await clusterTemplates.run() } }
            if options.resync > 0 { informers.addTask { await self.resync(every: self.options.resync) } }
            try await withTaskCancellationHandler {
                try await rollouts.waitForSync()
                try await replicaSets.waitForSync()
                try await services.waitForSync()
                try await pods.waitForSync()
                try await analysisRuns.waitForSync()
                try await templates.waitForSync()
                try await clusterTemplates?.waitForSync()
                logger.info("caches synced: \(rollouts.count) rollouts, \(replicaSets.count) replicasets, \(services.count) services")
                try await leadership()
                logger.info("reconciling with \(options.workers) workers and \(options.analysisWorkers) analysis workers")
                for r in rollouts.all() { await queue.add(Informer<Rollout>.key(r)) }
                await withTaskGroup(of: Void.self) { workers in
                    for _ in 0..<max(1, self.options.workers) { workers.addTask { await self.work() } }
                    workers.addTask { await self.runner.run() }
                }
            } onCancel: {
                Task { await self.shutDown() }
            }
            informers.cancelAll()
        }
    }

    /// Leadership is gone: no write goes out from now on, and no new work is taken.
    public func stopLeading() async {
        fence.close()
        await shutDown()
    }

    /// Stops taking new work; `run()` returns once in-flight reconciles are done.
    public func shutDown() async {
        await queue.shutDown()
        await runner.queue.shutDown()
    }

    /// Re-adds every Rollout periodically; cancelled with the informers.
    func resync(every seconds: Double) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(seconds))
            for r in rollouts.all() { await queue.add(Informer<Rollout>.key(r)) }
        }
    }

    func replicaSetChanged(_ rs: ReplicaSet?) {
        guard let rs else { return }
        if let owner = rs.metadata.ownerReferences?.first(where: { $0.controller == true }) {
            guard owner.kind == "Rollout" else { return }
            let key = Informer<Rollout>.key(namespace: rs.metadata.namespace, name: owner.name)
            Task { await queue.add(key) }
            return
        }
        // An orphan: any Rollout in its namespace that it matches may adopt it.
        for r in rollouts.byIndex("ns:\(rs.metadata.namespace ?? "")") where r.spec.selector?.matches(rs.metadata.labels ?? [:]) == true {
            let key = Informer<Rollout>.key(r)
            Task { await queue.add(key) }
        }
    }

    func serviceChanged(_ svc: Service?) {
        guard let svc, let name = svc.metadata.name else { return }
        for r in rollouts.byIndex("svc:\(svc.metadata.namespace ?? "")/\(name)") {
            let key = Informer<Rollout>.key(r)
            Task { await queue.add(key) }
        }
    }

    func analysisRunChanged(_ run: AnalysisRun?) {
        guard let run else { return }
        runner.runChanged(run)
        ownerChanged(run.metadata)
    }

    /// Something a Rollout owns changed: that Rollout looks again.
    func ownerChanged(_ meta: ObjectMeta) {
        if let owner = meta.ownerReferences?.first(where: { $0.controller == true }), owner.kind == "Rollout" {
            let key = Informer<Rollout>.key(namespace: meta.namespace, name: owner.name)
            Task { await queue.add(key) }
        }
    }

    /// A template changed: the Rollouts that could reference it look again (a fixed template clears InvalidSpec).
    func templateChanged(_ template: AnalysisTemplate?) {
        guard let template else { return }
        templatesChanged(namespace: template.metadata.namespace)
    }

    /// Templates of a namespace (nil: cluster-wide ones) changed.
    func templatesChanged(namespace: String?) {
        let affected = namespace.map { rollouts.byIndex("ns:\($0)") } ?? rollouts.all()
        for r in affected {
            let key = Informer<Rollout>.key(r)
            Task { await queue.add(key) }
        }
    }

    func work() async {
        await queue.work(logger: logger, timer: ControllerMetrics.reconcile, errors: ControllerMetrics.reconcileErrors) { try await reconcile($0) }
    }

    /// One reconcile. Returns when to look again, if a timer is due.
    func reconcile(_ key: String) async throws -> Double? {
        guard let rollout = rollouts.get(key), let uid = rollout.metadata.uid else {
            if let u = rollouts.undecodable(key), u.metadata.deletionTimestamp == nil { try await reporter.rollout(u) }
            return nil
        }
        if rollout.metadata.deletionTimestamp != nil { return nil }
        let ns = rollout.metadata.namespace
        let owned = replicaSets.byIndex(uid)
        let orphans = replicaSets.byIndex("orphan:\(ns ?? "")").filter { rollout.spec.selector?.matches($0.metadata.labels ?? [:]) == true }
        var named: [String: Service] = [:]
        for name in Self.serviceNames(rollout) {
            if let s = services.get(namespace: ns, name: name) { named[name] = s }
        }
        // Pods are read only when something needs them: a restart, or role metadata.
        let canary = rollout.spec.strategy?.canary, bg = rollout.spec.strategy?.blueGreen
        let needsPods = rollout.spec.restartAt != nil || canary?.canaryMetadata != nil || canary?.stableMetadata != nil
            || bg?.activeMetadata != nil || bg?.previewMetadata != nil
        let rolloutPods = needsPods ? (owned + orphans).compactMap(\.podTemplateHash).flatMap { pods.byIndex("\(ns ?? "")/\($0)") } : []
        // Templates are read only by a Rollout that uses analysis.
        let usesAnalysis = canary?.analysis != nil || canary?.steps?.contains { $0.analysis != nil } == true
            || bg?.prePromotionAnalysis != nil || bg?.postPromotionAnalysis != nil
        func reasons(_ list: [Undecodable], namespace: String?) -> [String: String] {
            Dictionary(list.filter { $0.metadata.namespace == namespace }.map { ($0.metadata.name ?? "", $0.error) }, uniquingKeysWith: { a, _ in a })
        }
        let catalog = usesAnalysis ? TemplateCatalog(
            namespaced: Dictionary(templates.byIndex("ns:\(ns ?? "")").map { ($0.metadata.name ?? "", $0) }, uniquingKeysWith: { a, _ in a }),
            cluster: Dictionary((clusterTemplates?.all() ?? []).map { ($0.metadata.name ?? "", $0) }, uniquingKeysWith: { a, _ in a }),
            undecodableNamespaced: reasons(templates.allUndecodable(), namespace: ns),
            undecodableCluster: reasons(clusterTemplates?.allUndecodable() ?? [], namespace: nil))
            : TemplateCatalog()
        // Owned runs that cannot be read stand in as runs in Error (the runner tells the run itself).
        let unreadableRuns = analysisRuns.allUndecodable().filter { Self.controllerUID($0.metadata) == [uid] }
        let view = RolloutView(rollout: rollout, replicaSets: owned + orphans, services: named, pods: rolloutPods,
                               analysisRuns: analysisRuns.byIndex(uid) + unreadableRuns.map(UndecodableReporter.standIn(for:)), templates: catalog,
                               now: KubeTime.now())
        let plan = RolloutPlanner.plan(view)
        try await executor.apply(plan, to: rollout, caches: caches)
        return plan.requeueAfter
    }
}
