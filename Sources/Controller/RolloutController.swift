import AviaryAPI
import Foundation
import Kube
import Logging
import Rollouts

/// The Rollout controller: informers feed a work queue; workers reconcile one
/// Rollout at a time: read the caches → plan (pure) → execute → write status.
///
/// Reading a reconcile from event to API call:
/// 1. an informer sees a change and `ChangeKeys` maps it to Rollout keys, added to the `WorkQueue` in place;
/// 2. a worker takes the key from the `WorkQueue`;
/// 3. `reconcile` builds a `RolloutView` from the caches and asks `RolloutPlanner.plan`;
/// 4. the `Executor` sends each action's `WriteRequest`s, then patches the status;
/// 5. the plan's events go to `sideEffects`, which a service of the process delivers;
/// 6. notifications the plan owed went into that status write (`status.notifications`),
///    and `NotificationDelivery` sends them on its own queue and removes them.
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
        /// Where `aviary-notification-configmap` and its Secret live (the controller's namespace); nil: no notifications.
        public var notificationsNamespace: String?
        /// Also honour a Rollout's own namespace's notification ConfigMap and Secret.
        public var selfServiceNotifications: Bool
        /// Rollouts whose notifications are sent at once (each may wait on a slow receiver).
        public var notificationWorkers: Int
        /// `--config-tracking`: watch ConfigMaps and Secrets, and snapshot them for Rollouts that ask.
        public var configTracking: Bool
        public init(namespace: String? = nil, workers: Int = 50, analysisWorkers: Int = 10, measurementLimit: Int = 30,
                    instanceID: String? = nil, resync: Double = 0, providerAllow: AddressPolicy? = nil,
                    providerMaxResponseBytes: Int = 1 << 20, notificationsNamespace: String? = nil,
                    selfServiceNotifications: Bool = false, notificationWorkers: Int = 4, configTracking: Bool = false) {
            self.configTracking = configTracking
            self.notificationsNamespace = notificationsNamespace
            self.selfServiceNotifications = selfServiceNotifications
            self.notificationWorkers = notificationWorkers
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
    /// VirtualServices, DestinationRules and HTTPRoutes, whole; each kind once the API serves it.
    let routes: RouteInformers
    /// ConfigMaps and Secrets as digests (never values), with `--config-tracking` only.
    let configMaps: Informer<ConfigObject<ConfigMapKind>>?
    let secrets: Informer<ConfigObject<SecretKind>>?
    let runner: AnalysisRunController
    let queue = WorkQueue<ObjectKey>()
    let executor: Executor
    /// Events queued by reconciles; `SideEffectsService` delivers them through `deliver`. (Notifications go through `notifications`: they must survive a restart, so they wait in the status, not in memory.)
    public let sideEffects = SideEffects()
    /// Closed when leadership is lost (`stopLeading`): no write goes out after that.
    public let fence = WriteFence()
    /// Says so on objects that do not decode.
    let reporter: UndecodableReporter
    /// Sends what Rollouts' statuses say is owed (nil without a notifications namespace).
    let notifications: NotificationDelivery?
    var caches: Executor.Caches {
        Executor.Caches(replicaSet: { [replicaSets] in replicaSets.store($0) }, service: { [services] in services.store($0) },
                        rollout: { [rollouts] in rollouts.store($0) }, analysisRun: { [analysisRuns] in analysisRuns.store($0) },
                        deletedPod: { [pods] in
                            // Graceful: the answer says "deleting". At once: the answer is the last state, and the pod is gone.
                            if $0.metadata.deletionTimestamp != nil { pods.store($0) } else { pods.forget($0) }
                        },
                        route: { [routes] in routes.store($0, $1) },
                        config: { [configMaps, secrets] kind, body in
                            switch kind {
                            case .configMap: if let o = try? JSONDecoder().decode(ConfigObject<ConfigMapKind>.self, from: body) { configMaps?.store(o) }
                            case .secret: if let o = try? JSONDecoder().decode(ConfigObject<SecretKind>.self, from: body) { secrets?.store(o) }
                            }
                        })
    }
    /// Which Rollouts a change concerns, looked up in the Rollouts cache.
    var changeKeys: ChangeKeys {
        // Weakly: the Rollouts informer's own handler holds these.
        ChangeKeys(rollouts: { [weak rollouts] in rollouts?.byIndex($0) ?? [] }, allRollouts: { [weak rollouts] in rollouts?.all() ?? [] })
    }

    /// The Services a Rollout's strategy names.
    static func serviceNames(_ r: Rollout) -> [String] {
        let c = r.spec.strategy?.canary, bg = r.spec.strategy?.blueGreen
        return [c?.canaryService, c?.stableService, bg?.activeService, bg?.previewService].compactMap { $0 }
    }

    public init(client: KubeClient, options: Options, logger: Logger = Logger(label: "aviary.controller")) {
        self.client = client
        self.options = options
        self.logger = logger
        let ns = options.namespace
        rollouts = Informer(Reflector(client: client, resource: Rollout.resource, namespace: ns, labelSelector: Self.rolloutSelector(options.instanceID)),
                            index: IndexKey.rollout)
        // Only ReplicaSets that carry our hash label: never the cluster's others.
        replicaSets = Informer(Reflector(client: client, resource: .replicaSets, namespace: ns, labelSelector: podTemplateHashLabel,
                                         transform: { CachedReplicaSet.compact($0) }),
                               index: IndexKey.replicaSet)
        services = Informer(Reflector(client: client, resource: .services, namespace: ns))
        pods = Informer(Reflector(client: client, resource: .pods, namespace: ns, labelSelector: podTemplateHashLabel), index: IndexKey.pod)
        // Runs carry their Rollout's shard label, so a sharded controller runs only its own.
        analysisRuns = Informer(Reflector(client: client, resource: AnalysisRun.resource, namespace: ns,
                                          labelSelector: Self.rolloutSelector(options.instanceID)),
                                index: IndexKey.analysisRun)
        templates = Informer(Reflector(client: client, resource: AnalysisTemplate.resource, namespace: ns), index: IndexKey.template)
        clusterTemplates = ns == nil ? Informer(Reflector(client: client, resource: AnalysisTemplate.clusterResource)) : nil
        routes = RouteInformers(client: client, namespace: ns, logger: logger)
        if options.configTracking {
            configMaps = Informer(Reflector(client: client, resource: .configMaps, namespace: ns), index: IndexKey.config)
            secrets = Informer(Reflector(client: client, resource: .secrets, namespace: ns), index: IndexKey.config)
        } else {
            configMaps = nil
            secrets = nil
        }
        executor = Executor(client: client, logger: logger, fence: fence, effects: sideEffects)
        reporter = UndecodableReporter(client: client, executor: executor, logger: logger)
        if let ns = options.notificationsNamespace {
            let settings = NotificationSettings(client: client, namespace: ns, selfService: options.selfServiceNotifications, logger: logger)
            let rollouts = rollouts, runs = analysisRuns, replicaSets = replicaSets
            let caches = Executor.Caches(replicaSet: { _ in }, service: { _ in }, rollout: { rollouts.store($0) }, analysisRun: { _ in })
            notifications = NotificationDelivery(
                settings: settings, sender: NotificationSender(addressPolicy: options.providerAllow), executor: executor, caches: caches,
                client: client, rollout: { rollouts.get($0) },
                related: { r in
                    let uid = IndexKey.controller(uid: r.metadata.uid ?? "")
                    return (runs.byIndex(uid), replicaSets.byIndex(uid))
                },
                logger: logger)
        } else {
            notifications = nil
        }
        runner = AnalysisRunController(client: client, runs: analysisRuns, workers: options.analysisWorkers,
                                       measurementLimit: options.measurementLimit, providerAllow: options.providerAllow,
                                       providerMaxResponseBytes: options.providerMaxResponseBytes, reporter: reporter,
                                       pods: { [pods] namespace, hash in pods.byIndex(.podTemplateHash(namespace: namespace, hash: hash)) },
                                       logger: logger)
    }

    /// True once every cache has been filled (what /readyz reports).
    public var hasSynced: Bool {
        rollouts.hasSynced && replicaSets.hasSynced && services.hasSynced && pods.hasSynced && analysisRuns.hasSynced
            && templates.hasSynced && (clusterTemplates?.hasSynced ?? true) && routes.isReady
            && (configMaps?.hasSynced ?? true) && (secrets?.hasSynced ?? true)
    }

    /// Runs informers at once (a follower keeps warm caches), and workers once
    /// the caches are synced and `leadership` returns. Returns after
    /// `shutDown()`, when in-flight reconciles have finished.
    public func run(leadership: @escaping @Sendable () async throws -> Void = {}) async throws {
        // Every change becomes the keys of the Rollouts it concerns, enqueued in place (no task per change).
        let keys = changeKeys
        rollouts.onChange { [queue] _, new in keys.rollout(new).forEach(queue.add) }
        replicaSets.onChange { [queue] old, new in (old ?? new).map(keys.replicaSet)?.forEach(queue.add) }
        services.onChange { [queue] old, new in (old ?? new).map(keys.service)?.forEach(queue.add) }
        pods.onChange { [queue] old, new in (new ?? old).map(keys.pod)?.forEach(queue.add) }
        analysisRuns.onChange { [queue, runner] old, new in
            guard let run = new ?? old else { return }
            runner.runChanged(run)
            keys.owned(run.metadata).forEach(queue.add)
        }
        templates.onChange { [queue] old, new in (new ?? old).map { keys.templates(namespace: $0.metadata.namespace) }?.forEach(queue.add) }
        clusterTemplates?.onChange { [queue] old, new in
            (new ?? old).map { _ in keys.templates(namespace: nil) }?.forEach(queue.add)
        }
        routes.onChange { [queue] kind, route in keys.route(kind, route.metadata).forEach(queue.add) }
        configMaps?.onChange { [queue] old, new in (new ?? old).map { keys.config(.configMap, $0.metadata) }?.forEach(queue.add) }
        secrets?.onChange { [queue] old, new in (new ?? old).map { keys.config(.secret, $0.metadata) }?.forEach(queue.add) }
        // Objects that do not decode: their Rollout looks again, to say so.
        rollouts.onUndecodable { [queue] u, deleted in keys.undecodableRollout(u, deleted: deleted).forEach(queue.add) }
        analysisRuns.onUndecodable { [queue, runner] u, deleted in
            if !deleted { runner.undecodableChanged(u) }
            keys.owned(u.metadata).forEach(queue.add)
        }
        templates.onUndecodable { [queue] u, _ in keys.templates(namespace: u.metadata.namespace).forEach(queue.add) }
        clusterTemplates?.onUndecodable { [queue] _, _ in keys.templates(namespace: nil).forEach(queue.add) }

        try await withThrowingTaskGroup(of: Void.self) { informers in
            informers.addTask { await self.rollouts.run() }
            informers.addTask { await self.replicaSets.run() }
            informers.addTask { await self.services.run() }
            informers.addTask { await self.pods.run() }
            informers.addTask { await self.analysisRuns.run() }
            informers.addTask { await self.templates.run() }
            if let clusterTemplates { informers.addTask { await clusterTemplates.run() } }
            informers.addTask { await self.routes.run() }
            if let configMaps { informers.addTask { await configMaps.run() } }
            if let secrets { informers.addTask { await secrets.run() } }
            if let settings = notifications?.settings { informers.addTask { await settings.run() } }
            if options.resync > 0 { informers.addTask { await self.resync(every: self.options.resync) } }
            try await withTaskCancellationHandler {
                try await rollouts.waitForSync()
                try await replicaSets.waitForSync()
                try await services.waitForSync()
                try await pods.waitForSync()
                try await analysisRuns.waitForSync()
                try await templates.waitForSync()
                try await clusterTemplates?.waitForSync()
                try await routes.waitForSync()
                try await configMaps?.waitForSync()
                try await secrets?.waitForSync()
                logger.info("caches synced: \(rollouts.count) rollouts, \(replicaSets.count) replicasets, \(services.count) services")
                try await leadership()
                logger.info("reconciling with \(options.workers) workers and \(options.analysisWorkers) analysis workers")
                for k in rollouts.map(Informer<Rollout>.key) { queue.add(k) }
                await withTaskGroup(of: Void.self) { workers in
                    for _ in 0..<max(1, self.options.workers) { workers.addTask { await self.work() } }
                    workers.addTask { await self.runner.run() }
                    if let notifications = self.notifications {
                        workers.addTask { await notifications.run(workers: self.options.notificationWorkers) }
                    }
                }
            } onCancel: {
                self.shutDown()
            }
            informers.cancelAll()
        }
    }

    /// Leadership is gone: no write goes out from now on, and no new work is taken.
    public func stopLeading() {
        fence.close()
        shutDown()
    }

    /// Stops taking new work; `run()` returns once in-flight reconciles are done.
    public func shutDown() {
        queue.shutDown()
        runner.queue.shutDown()
        notifications?.queue.shutDown()
    }

    /// Carries out one queued side effect (fenced: nothing once leadership is
    /// lost); the loop of `sideEffects`, run by a service of the process, calls it.
    public func deliver(_ effect: SideEffect) async { await executor.deliver(effect) }

    /// What tracking reads for one Rollout: the objects its template names and
    /// its snapshots, from the caches; nil when this controller does not track.
    func configView(_ rollout: Rollout) -> ConfigView? {
        guard let configMaps, let secrets else { return nil }
        let ns = rollout.metadata.namespace
        var objects: [ConfigObjectRef: ConfigSource] = [:]
        if ConfigTracking.isRequested(by: rollout.metadata) {
            for reference in ConfigReferences.find(in: rollout.spec.template) where objects[reference.ref] == nil {
                let name = reference.ref.name
                let found = reference.ref.kind == .configMap ? configMaps.get(namespace: ns, name: name)?.source
                    : secrets.get(namespace: ns, name: name)?.source
                if let found { objects[reference.ref] = found }
            }
        }
        let key = IndexKey.snapshots(namespace: ns ?? "", rollout: rollout.metadata.name ?? "")
        return ConfigView(objects: objects, snapshots: configMaps.byIndex(key).map(\.source) + secrets.byIndex(key).map(\.source))
    }

    /// Re-adds every Rollout periodically; cancelled with the informers.
    func resync(every seconds: Double) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(seconds))
            for k in rollouts.map(Informer<Rollout>.key) { queue.add(k) }
        }
    }

    func work() async {
        await queue.work(logger: logger, timer: ControllerMetrics.reconcile, errors: ControllerMetrics.reconcileErrors) { try await reconcile($0) }
    }

    /// One reconcile. Returns when to look again, if a timer is due.
    func reconcile(_ key: ObjectKey) async throws -> Double? {
        guard let rollout = rollouts.get(key), let uid = rollout.metadata.uid else {
            if let u = rollouts.undecodable(key), u.metadata.deletionTimestamp == nil { try await reporter.rollout(u) }
            return nil
        }
        if rollout.metadata.deletionTimestamp != nil { return nil }
        // The route objects its router names; a kind still listing (just installed) is waited for.
        guard let routeObjects = routes.objects(RouteRef.named(by: rollout)) else { return 2 }
        let ns = rollout.metadata.namespace
        let owned = replicaSets.byIndex(.controller(uid: uid))
        let orphans = replicaSets.byIndex(.orphan(namespace: ns ?? "")).filter { rollout.spec.selector?.matches($0.metadata.labels ?? [:]) == true }
        var named: [String: Service] = [:]
        for name in Self.serviceNames(rollout) {
            if let s = services.get(namespace: ns, name: name) { named[name] = s }
        }
        // Pods are read only when something needs them: a restart, or role metadata.
        let canary = rollout.spec.strategy?.canary, bg = rollout.spec.strategy?.blueGreen
        let needsPods = rollout.spec.restartAt != nil || canary?.canaryMetadata != nil || canary?.stableMetadata != nil
            || bg?.activeMetadata != nil || bg?.previewMetadata != nil
        let rolloutPods = needsPods ? (owned + orphans).compactMap(\.podTemplateHash).flatMap { pods.byIndex(.podTemplateHash(namespace: ns ?? "", hash: $0)) } : []
        // Templates are read only by a Rollout that uses analysis.
        let usesAnalysis = canary?.analysis != nil || canary?.steps?.contains { $0.analysis != nil } == true
            || bg?.prePromotionAnalysis != nil || bg?.postPromotionAnalysis != nil
        func reasons(_ list: [Undecodable], namespace: String?) -> [String: String] {
            Dictionary(list.filter { $0.metadata.namespace == namespace }.map { ($0.metadata.name ?? "", $0.error) }, uniquingKeysWith: { a, _ in a })
        }
        let catalog = usesAnalysis ? TemplateCatalog(
            namespaced: Dictionary(templates.byIndex(.namespace(ns ?? "")).map { ($0.metadata.name ?? "", $0) }, uniquingKeysWith: { a, _ in a }),
            cluster: Dictionary((clusterTemplates?.all() ?? []).map { ($0.metadata.name ?? "", $0) }, uniquingKeysWith: { a, _ in a }),
            undecodableNamespaced: reasons(templates.allUndecodable(), namespace: ns),
            undecodableCluster: reasons(clusterTemplates?.allUndecodable() ?? [], namespace: nil))
            : TemplateCatalog()
        // Owned runs that cannot be read stand in as runs in Error (the runner tells the run itself).
        let unreadableRuns = analysisRuns.allUndecodable().filter { IndexKey.controllerUID($0.metadata) == uid }
        let view = RolloutView(rollout: rollout, replicaSets: owned + orphans, services: named, pods: rolloutPods,
                               analysisRuns: analysisRuns.byIndex(.controller(uid: uid)) + unreadableRuns.map(UndecodableReporter.standIn(for:)), templates: catalog,
                               routes: routeObjects, now: KubeTime.now(), config: configView(rollout))
        let plan = RolloutPlanner.plan(view)
        // Notifications owed: those already pending (a restart, a new leader), and those this plan records.
        if rollout.status?.notifications?.pending?.isEmpty == false { notifications?.wake(key) }
        try await executor.apply(plan, to: rollout, caches: caches)
        if plan.status.notifications?.pending?.isEmpty == false { notifications?.wake(key) }
        return plan.requeueAfter
    }
}
