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

        public init(namespace: String, name: String = "aviary-controller", identity: String,
                    leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2)) {
            self.namespace = namespace
            self.name = name
            self.identity = identity
            self.leaseDuration = leaseDuration
            self.renewDeadline = renewDeadline
            self.retryPeriod = retryPeriod
        }
    }

    public struct LostLeadership: Error, CustomStringConvertible {
        public var description: String { "lost the leader lease: could not renew it within the renew deadline" }
    }

    private struct State {
        var leading = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var observed: (record: Lease.Spec?, at: ContinuousClock.Instant)?
        var lastRenew: ContinuousClock.Instant?
        var wake: CheckedContinuation<Void, Never>?
    }

    let client: KubeClient
    public let config: Config
    let logger: Logger
    private let state = Mutex(State())
    private let clock = ContinuousClock()
    private let leaderGauge = Gauge(label: "aviary_leader")

    public init(client: KubeClient, config: Config, logger: Logger) {
        self.client = client
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

    private func loop() async throws {
        while !Task.isCancelled {
            if isLeader {
                if await renew() {
                    state.withLock { $0.lastRenew = clock.now }
                } else if let last = state.withLock({ $0.lastRenew }), clock.now - last > config.renewDeadline {
                    state.withLock { $0.leading = false }
                    leaderGauge.record(0)
                    logger.error("\(LostLeadership())")
                    throw LostLeadership()
                }
                try await Task.sleep(for: config.retryPeriod)
            } else {
                if await tryAcquire() { continue }
                await sleepOrWake(config.retryPeriod)
            }
        }
    }

    /// One attempt to take the lease: free, released, expired, or already ours.
    func tryAcquire() async -> Bool {
        do {
            let lease: Lease
            do {
                lease = try await client.get(.leases, config.name, namespace: config.namespace)
            } catch let e as KubeError where e.isNotFound {
                let fresh = Lease(metadata: ObjectMeta(name: config.name, namespace: config.namespace), spec: ours(transitions: 0, acquired: .now()))
                let _: Lease = try await client.create(.leases, fresh, namespace: config.namespace)
                becomeLeader()
                return true
            }
            let spec = lease.spec
            let now = clock.now
            let observedAt = state.withLock { s -> ContinuousClock.Instant in
                if s.observed?.record != spec { s.observed = (spec, now) }
                return s.observed!.at
            }
            let holder = spec?.holderIdentity ?? ""
            let duration = Duration.seconds(spec?.leaseDurationSeconds ?? Int(config.leaseDuration.components.seconds))
            guard holder.isEmpty || holder == config.identity || now - observedAt > duration else { return false }
            var taken = lease
            let transitions = (spec?.leaseTransitions ?? 0) + (holder == config.identity ? 0 : 1)
            taken.spec = ours(transitions: transitions, acquired: holder == config.identity ? (spec?.acquireTime ?? .now()) : .now())
            let _: Lease = try await client.replace(.leases, config.name, taken, namespace: config.namespace)
            becomeLeader()
            return true
        } catch let e as KubeError where e.isConflict || e.isAlreadyExists {
            return false
        } catch {
            logger.warning("leader election: \(error)")
            return false
        }
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

    /// Renews the lease; false if it could not (a conflict means someone else holds it now).
    private func renew() async -> Bool {
        do {
            var lease: Lease = try await client.get(.leases, config.name, namespace: config.namespace)
            guard lease.spec?.holderIdentity == config.identity else {
                state.withLock { $0.lastRenew = .now - config.renewDeadline - .seconds(1) }
                return false
            }
            lease.spec?.renewTime = .now()
            let _: Lease = try await client.replace(.leases, config.name, lease, namespace: config.namespace)
            return true
        } catch {
            logger.warning("leader election: renewing failed: \(error)")
            return false
        }
    }

    /// Gives the lease up (on shutdown), so a follower takes over at once.
    public func release() async {
        guard isLeader else { return }
        state.withLock { $0.leading = false }
        leaderGauge.record(0)
        do {
            var lease: Lease = try await client.get(.leases, config.name, namespace: config.namespace)
            guard lease.spec?.holderIdentity == config.identity else { return }
            lease.spec?.holderIdentity = nil
            lease.spec?.leaseDurationSeconds = 1
            lease.spec?.renewTime = .now()
            let _: Lease = try await client.replace(.leases, config.name, lease, namespace: config.namespace)
            logger.info("leader election: released the lease")
        } catch {
            logger.warning("leader election: releasing the lease failed: \(error)")
        }
    }

    // MARK: waking a follower when the lease is released

    private func sleepOrWake(_ duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: duration) }
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
        let reflector = Reflector<Lease>(client: client, resource: .leases, namespace: config.namespace,
                                         fieldSelector: "metadata.name=\(config.name)")
        do {
            for try await event in reflector {
                guard case .modified(let lease) = event, (lease.spec?.holderIdentity ?? "").isEmpty else { continue }
                state.withLock { s in s.wake?.resume(); s.wake = nil }
            }
        } catch {}
    }
}
