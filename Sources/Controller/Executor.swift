import AviaryAPI
import Foundation
import Kube
import Logging
import Rollouts

/// Applies a plan through the API, action by action, then writes the status.
/// Every action is safe to repeat: a stale cache may plan one twice. What each
/// action sends is decided by pure functions (ActionRequests.swift); this only
/// sends, fenced, and keeps the answers.
public struct Executor: Sendable {
    let client: KubeClient
    let logger: Logger
    /// Closed when leadership is lost: no write goes out after that.
    let fence: WriteFence
    /// Where events go, to be sent after the reconcile by the side-effect loop.
    let effects: SideEffects
    public static let component = "aviary-controller"
    /// This process, for events' reportingInstance (at most 128 characters).
    public static let instance = String(ProcessInfo.processInfo.hostName.prefix(128))

    public init(client: KubeClient, logger: Logger, fence: WriteFence = WriteFence(), effects: SideEffects) {
        self.client = client
        self.logger = logger
        self.fence = fence
        self.effects = effects
    }

    /// Where the API's answers to our writes go at once (the informer caches),
    /// so the next reconcile sees them even if a later call of this one fails.
    public struct Caches: Sendable {
        public var replicaSet: @Sendable (ReplicaSet) -> Void
        public var service: @Sendable (Service) -> Void
        public var rollout: @Sendable (Rollout) -> Void
        public var analysisRun: @Sendable (AnalysisRun) -> Void
        /// A pod as the API answered its delete: still there, deleting, or already gone.
        public var deletedPod: @Sendable (Pod) -> Void
        public var route: @Sendable (RouteKind, RouteObject) -> Void
        /// A snapshot as the API answered it (the body, decoded by the cache of its kind).
        public var config: @Sendable (ConfigKind, Data) -> Void

        public init(replicaSet: @escaping @Sendable (ReplicaSet) -> Void, service: @escaping @Sendable (Service) -> Void,
                    rollout: @escaping @Sendable (Rollout) -> Void, analysisRun: @escaping @Sendable (AnalysisRun) -> Void,
                    deletedPod: @escaping @Sendable (Pod) -> Void = { _ in },
                    route: @escaping @Sendable (RouteKind, RouteObject) -> Void = { _, _ in },
                    config: @escaping @Sendable (ConfigKind, Data) -> Void = { _, _ in }) {
            self.config = config
            self.replicaSet = replicaSet
            self.service = service
            self.rollout = rollout
            self.analysisRun = analysisRun
            self.deletedPod = deletedPod
            self.route = route
        }
    }

    /// Changes first, then the status, then the events (queued as side
    /// effects): a status write that loses a race (409) is planned again from
    /// fresh state, and its events are only recorded by the attempt that succeeds.
    public func apply(_ plan: Plan, to rollout: Rollout, caches: Caches) async throws {
        let ns = rollout.metadata.namespace
        var events: [Rollouts.Event] = []
        for action in plan.actions {
            if case .event(let event) = action { events.append(event) }
            if case .createConfigSnapshot(let spec) = action {
                try await createSnapshot(spec, namespace: ns, caches: caches)
                continue
            }
            for request in try Self.requests(for: action, namespace: ns) {
                try await send(request, caches: caches)
            }
        }
        if let status = try Self.statusRequest(plan.status, of: rollout) { try await send(status, caches: caches) }
        // Events go out on their own: best effort, and not worth holding a worker
        // (at 100 Rollouts updated at once this halves the slowest reconciles).
        let step = rollout.status?.currentStepIndex
        for event in events { effects.send(.event(event, about: rollout.metadata, step: step)) }
    }

    /// Sends one write past the fence; an answer that means "already done" is
    /// no error, and the object answered goes to its cache.
    func send(_ request: WriteRequest, caches: Caches) async throws {
        try fence.check()
        let response: HTTPResponse
        do {
            let (body, contentType) = try request.body()
            response = try await client.send(request.method, request.path, body: body, contentType: contentType)
        } catch where request.tolerates(error) {
            return
        } catch where request.failedTest(error) {
            throw StaleWrite(path: request.path)
        }
        func decoded<T: Decodable>(_ type: T.Type) throws -> T {
            do {
                return try JSONDecoder().decode(T.self, from: response.body)
            } catch {
                throw KubeError.decoding("\(T.self): \(error)")
            }
        }
        switch request.answer {
        case .replicaSet?: caches.replicaSet(try decoded(ReplicaSet.self))
        case .service?: caches.service(try decoded(Service.self))
        case .rollout?: caches.rollout(try decoded(Rollout.self))
        case .analysisRun?: caches.analysisRun(try decoded(AnalysisRun.self))
        // The delete has happened: an answer that does not read as a Pod (a Status) is left to the watch, never an error.
        case .deletedPod?: if let pod = try? decoded(Pod.self) { caches.deletedPod(pod) }
        case .route(let kind)?: caches.route(kind, try decoded(RouteObject.self))
        case .config(let kind)?: caches.config(kind, response.body)
        case nil: break
        }
    }

    /// Delivers one side effect (the loop in `SideEffects` calls this). Events
    /// are best effort: a failure is logged, never retried; nothing goes out
    /// once the fence is closed.
    public func deliver(_ effect: SideEffect) async {
        switch effect {
        case .event(let event, let meta, let step, let time):
            guard fence.isOpen else { return }
            let request = Self.eventRequest(event, about: meta, at: time, suffix: UInt64.random(in: 0...UInt64.max))
            do {
                let (body, contentType) = try request.body()
                _ = try await client.send(request.method, request.path, body: body, contentType: contentType)
            } catch {
                logger.warning("cannot record event \(event.reason.rawValue) for \(meta.namespace ?? "")/\(meta.name ?? ""): \(error)")
            }
            var metadata: Logger.Metadata = ["namespace": "\(meta.namespace ?? "")", "rollout": "\(meta.name ?? "")",
                                             "reason": "\(event.reason.rawValue)"]
            if let step { metadata["step"] = "\(step)" }
            logger.info("\(event.message)", metadata: metadata)
        }
    }
}
