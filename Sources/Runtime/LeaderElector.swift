import Foundation
import Kube
import Logging
import Metrics
import Synchronization

/// Leader election through a Lease, as client-go does it: the leader renews
/// every `retryPeriod`; a follower takes over once the record it last saw
/// change is older than `leaseDuration` (its own clock, so skew between
/// machines does not matter), or at once when the leader released it. A
/// leader that cannot renew within `renewDeadline` stops leading.
public final class LeaderElector: Sendable {
    public struct Config: Sendable {
        public var namespace: String
        public var name: String
        public var identity: String
        public var leaseDuration: Duration
        public var renewDeadline: Duration
        public var retryPeriod: Duration
        /// Written on the Lease (`aviary.dev/controller-version`), so `kubectl aviary version` can tell which controller leads.
        public var version: String?

        public init(namespace: String, name: String = "aviary-controller", identity: String,
                    leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2),
                    version: String? = nil) {
            self.namespace = namespace
            self.name = name
            self.identity = identity
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
            self.version = version
        }
    }

    public struct LostLeadership: Error, CustomStringConvertible {
        public var reason: String
        public var description: String { "lost the leader lease: \(reason)" }
    }

    private struct State {
        var leading = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var observed: (record: Lease.Spec?, at: ContinuousClock.Instant)?
        var lastRenew: ContinuousClock.Instant?
        var wake: CheckedContinuation<Void, Never>?
    }

    let store: any LeaseStore
    public let config: Config
    let logger: Logger
    private let state = Mutex(State())
    private let clock: any ElectionClock
    private let leaderGauge = Gauge(label: "aviary_leader")
    private final class LossBox: Sendable {
        let call: @Sendable (LostLeadership) -> Void
        init(_ call: @escaping @Sendable (LostLeadership) -> Void) { self.call = call }
    }
    private let lossHandler = Mutex<LossBox?>(nil)

    /// - Parameter client: the controller's client; the elector talks through a
    ///   copy with its own rate limiter, no retries and short timeouts, so a
    ///   renewal never waits behind reconcile traffic or a retry loop.
    public convenience init(client: KubeClient, config: Config, logger: Logger) {
        let own = client.withOwnBudget(qps: 5, burst: 10, retry: .none, requestTimeout: config.retryPeriod)
        self.init(store: APILeaseStore(client: own, namespace: config.namespace, name: config.name), clock: SystemElectionClock(),
                  config: config, logger: logger)
    }

    /// - Parameters:
    ///   - store: where the Lease is read and written.
    ///   - clock: the elector's own time; its decisions never read the Lease's timestamps (other machines' clocks).
    init(store: any LeaseStore, clock: any ElectionClock, config: Config, logger: Logger) {
        self.store = store
        self.clock = clock
        self.config = config
        self.logger = logger
        leaderGauge.record(0)
    }

    public var isLeader: Bool { state.withLock { $0.leading } }

    /// Returns once this instance leads; throws CancellationError if `abandon()` is called first.
    public func waitForLeadership() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let now = state.withLock { s -> Bool in
                if s.leading { return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    /// Shutting down as a follower: whoever waits to lead stops waiting.
    public func abandon() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(throwing: CancellationError()) }
    }

    /// Campaigns and renews until cancelled; throws `LostLeadership` if a renewal deadline passes.
    public func run() async throws {
        logger.info("leader election: lease \(config.namespace)/\(config.name) as \(config.identity)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.watchForRelease() }
            group.addTask { try await self.loop() }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Told (once) the moment this instance stops leading, before `run` throws:
    /// the controller stops its workers and fences its writes there.
    public func onLoss(_ handler: @escaping @Sendable (LostLeadership) -> Void) {
        let box = LossBox(handler)
        lossHandler.withLock { $0 = box }
    }

    private func loop() async throws {
        while !Task.isCancelled {
            switch try await step() {
            case .again: continue
            case .renewAfter(let wait): try await clock.sleep(for: wait)
            case .retryAfter(let wait): await sleepOrWake(wait)
            }
        }
    }

    /// What to do after one `step`.
    enum Next: Equatable {
        /// Just became the leader: renew at once.
        case again
        /// Leading: renew after this long.
        case renewAfter(Duration)
        /// Following: try again after this long, or as soon as the Lease is released.
        case retryAfter(Duration)
    }

    /// One turn of the election: a leader renews (and throws `LostLeadership`
    /// past the renew deadline or when someone else holds the Lease), a
    /// follower tries to take it.
    func step() async throws -> Next {
        guard isLeader else {
            return await tryAcquire() ? .again : .retryAfter(config.retryPeriod)
        }
        // Every attempt must end before the renew deadline: a hung API
        // server cannot keep a leader that has not renewed leading.
        let deadline = (state.withLock { $0.lastRenew } ?? clock.now) + config.renewDeadline
        let remaining = clock.now.duration(to: deadline)
        guard remaining > .zero else {
            throw lose("could not renew it within the renew deadline (\(config.renewDeadline))")
        }
        switch await renew(timeout: min(remaining, config.retryPeriod)) {
        case .renewed:
            state.withLock { $0.lastRenew = clock.now }
        case .heldBy(let other):
            throw lose("the Lease is now held by \"\(other)\"")
        case .failed:
            break
        }
        let next = (state.withLock { $0.lastRenew } ?? clock.now) + config.renewDeadline
        return .renewAfter(max(.milliseconds(50), min(config.retryPeriod, clock.now.duration(to: next))))
    }

    /// Stops leading at once: the gauge, the flag writes are fenced by, and the handler.
    private func lose(_ reason: String) -> LostLeadership {
        let lost = LostLeadership(reason: reason)
        state.withLock { $0.leading = false }
        leaderGauge.record(0)
        logger.error("\(lost); stopping work")
        lossHandler.withLock { $0 }?.call(lost)
        return lost
    }

    /// One attempt to take the lease: free, released, expired, or already ours.
    func tryAcquire() async -> Bool {
        do {
            guard let lease = try await store.get(timeout: nil) else {
                let fresh = Lease(metadata: stamped(ObjectMeta(name: config.name, namespace: config.namespace)), spec: ours(transitions: 0, acquired: .now()))
                try await store.create(fresh)
                becomeLeader()
                return true
            }
            let spec = lease.spec
            let now = clock.now
            let observedAt = state.withLock { s -> ContinuousClock.Instant in
                if s.observed?.record != spec { s.observed = (spec, now) }
                return s.observed?.at ?? now
            }
            let holder = spec?.holderIdentity ?? ""
            let duration = Duration.seconds(spec?.leaseDurationSeconds ?? Int(config.leaseDuration.components.seconds))
            guard holder.isEmpty || holder == config.identity || now - observedAt > duration else { return false }
            var taken = lease
            let transitions = (spec?.leaseTransitions ?? 0) + (holder == config.identity ? 0 : 1)
            taken.spec = ours(transitions: transitions, acquired: holder == config.identity ? (spec?.acquireTime ?? .now()) : .now())
            taken.metadata = stamped(taken.metadata)
            try await store.replace(taken, timeout: nil)
            becomeLeader()
            return true
        } catch let e as KubeError where e.isConflict || e.isAlreadyExists {
            return false
        } catch {
            logger.warning("leader election: \(error)")
            return false
        }
    }

    /// The annotation that names the leading controller's version.
    public static let versionAnnotation = "aviary.dev/controller-version"

    private func stamped(_ meta: ObjectMeta) -> ObjectMeta {
        guard let version = config.version else { return meta }
        var m = meta
        m.annotations = (m.annotations ?? [:]).merging([Self.versionAnnotation: version]) { _, new in new }
        return m
    }

    private func ours(transitions: Int, acquired: MicroTime) -> Lease.Spec {
        Lease.Spec(holderIdentity: config.identity, leaseDurationSeconds: Int(config.leaseDuration.components.seconds),
                   acquireTime: acquired, renewTime: .now(), leaseTransitions: transitions)
    }

    private func becomeLeader() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            s.leading = true
            s.lastRenew = clock.now
            defer { s.waiters = [] }
            return s.waiters
        }
        leaderGauge.record(1)
        logger.info("leader election: \(config.identity) is the leader")
        for w in waiters { w.resume() }
    }

    enum Renewal { case renewed, heldBy(String), failed }

    /// Renews the lease, each request bounded by `timeout`.
    private func renew(timeout: Duration) async -> Renewal {
        do {
            guard var lease = try await store.get(timeout: timeout) else {
                logger.warning("leader election: renewing failed: the Lease is gone")
                return .failed
            }
            let holder = lease.spec?.holderIdentity ?? ""
            guard holder == config.identity else { return .heldBy(holder.isEmpty ? "nobody" : holder) }
            lease.spec?.renewTime = .now()
            lease.metadata = stamped(lease.metadata)
            try await store.replace(lease, timeout: timeout)
            return .renewed
        } catch let e as KubeError where e.isConflict {
            // Someone else wrote the Lease since we read it: the next attempt reads who.
            logger.warning("leader election: renewing lost a race (409); checking again")
            return .failed
        } catch {
            logger.warning("leader election: renewing failed: \(error)")
            return .failed
        }
    }

    /// Gives the lease up (on shutdown), so a follower takes over at once.
    public func release() async {
        guard isLeader else { return }
        state.withLock { $0.leading = false }
        leaderGauge.record(0)
        do {
            guard var lease = try await store.get(timeout: nil), lease.spec?.holderIdentity == config.identity else { return }
            lease.spec?.holderIdentity = nil
            lease.spec?.leaseDurationSeconds = 1
            lease.spec?.renewTime = .now()
            try await store.replace(lease, timeout: nil)
            logger.info("leader election: released the lease")
        } catch {
            logger.warning("leader election: releasing the lease failed: \(error)")
        }
    }

    // MARK: waking a follower when the lease is released

    private func sleepOrWake(_ duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await self.clock.sleep(for: duration) }
            group.addTask {
                await withTaskCancellationHandler {
                    await withCheckedContinuation { c in
                        let resumeNow = self.state.withLock { s -> Bool in
                            if Task.isCancelled { return true }
                            s.wake = c
                            return false
                        }
                        if resumeNow { c.resume() }
                    }
                } onCancel: {
                    self.state.withLock { s in s.wake?.resume(); s.wake = nil }
                }
            }
            await group.next()
            group.cancelAll()
        }
    }

    /// Watches the Lease; a release (no holder) wakes a waiting follower.
    private func watchForRelease() async {
        await store.watchReleases { [weak self] in
            self?.state.withLock { s in s.wake?.resume(); s.wake = nil }
        }
    }
}
