import DequeModule
import Foundation
import Kube
import Logging
import Metrics
import Synchronization

/// Keys waiting to be reconciled, like controller-runtime's work queue:
/// - a key is queued at most once, however often it is added;
/// - a key being processed is never handed to a second worker; added again
///   meanwhile, it is queued once the first worker is done;
/// - failures back off per key, exponentially, capped low (10 s) so that a
///   flapping dependency never parks a Rollout for minutes;
/// - `add(_:after:)` wakes a key later (timed pauses, scale-down delays).
///
/// Adding is synchronous and never blocks on anything but a short lock, so an
/// informer's change handler enqueues in place instead of spawning a task.
/// Only `get()` suspends: a worker waits there for the next key.
public final class WorkQueue<Key: Hashable & Sendable>: Sendable {
    private struct State {
        /// In order, with when each was queued (for the wait metric); a Deque, as a relist queues every key at once.
        var queue: Deque<(key: Key, since: ContinuousClock.Instant)> = []
        var queued: Set<Key> = []
        var processing: Set<Key> = []
        var dirty: Set<Key> = []
        var failures: [Key: Int] = [:]
        var waiters: [CheckedContinuation<Key?, Never>] = []
        var timers: [Key: (due: ContinuousClock.Instant, task: Task<Void, Never>)] = [:]
        var shuttingDown = false
    }

    /// What one `get` found, decided under the lock and acted on outside it.
    private enum Taken { case key(Key, depth: Int, waited: Duration), none, wait }

    /// What one `add` did, decided under the lock and acted on outside it.
    private enum Added {
        case ignored
        case queued(depth: Int)
        case handed(CheckedContinuation<Key?, Never>)
    }

    private let state = Mutex(State())
    public let baseDelay: Double
    public let maxDelay: Double
    let metrics: ControllerMetrics.Queue

    /// Keys waiting.
    public var depth: Int { state.withLock { $0.queue.count } }

    public init(name: String = "rollouts", baseDelay: Double = 0.005, maxDelay: Double = 10) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        metrics = ControllerMetrics.Queue(name)
    }

    public func add(_ key: Key) {
        switch state.withLock({ Self.add(key, to: &$0) }) {
        case .ignored:
            break
        case .queued(let depth):
            metrics.adds.increment()
            metrics.depth.record(depth)
        case .handed(let waiter):
            metrics.adds.increment()
            metrics.wait.record(duration: .zero)
            waiter.resume(returning: key)
        }
    }

    private static func add(_ key: Key, to s: inout State) -> Added {
        guard !s.shuttingDown else { return .ignored }
        if s.processing.contains(key) {
            s.dirty.insert(key)
            return .ignored
        }
        guard !s.queued.contains(key) else { return .ignored }
        if !s.waiters.isEmpty {
            s.processing.insert(key)
            return .handed(s.waiters.removeFirst())
        }
        s.queued.insert(key)
        s.queue.append((key, ContinuousClock.now))
        return .queued(depth: s.queue.count)
    }

    /// Adds the key after `seconds`. A key has one pending wake-up: the sooner one wins.
    /// The longest a requeue waits: a day. Whatever a plan asks for, it is looked at again by then.
    public static var maxDelay: Double { 86_400 }

    public func add(_ key: Key, after seconds: Double) {
        guard seconds > 0 else { return add(key) }  // NaN too
        // Look again at least daily: a wait computed from user data can be any size, and a clock
        // deadline past Int64 seconds would trap.
        let due = ContinuousClock.now + .seconds(min(seconds, Self.maxDelay))
        state.withLock { s in
            guard !s.shuttingDown else { return }
            if let pending = s.timers[key] {
                if pending.due <= due { return }
                pending.task.cancel()
            }
            // One sleeping task per key with a wake-up (not per change); all are cancelled at shutdown.
            let task = Task { [weak self] in
                try? await Task.sleep(until: due, clock: .continuous)
                if !Task.isCancelled { self?.fire(key, due: due) }
            }
            s.timers[key] = (due, task)
        }
    }

    private func fire(_ key: Key, due: ContinuousClock.Instant) {
        state.withLock { s in
            if s.timers[key]?.due == due { s.timers[key] = nil }
        }
        add(key)
    }

    /// Wake-ups pending, for metrics and tests.
    public var pendingTimers: Int { state.withLock { $0.timers.count } }

    /// Adds the key after its next backoff delay: base × 2^failures, capped.
    public func addRateLimited(_ key: Key) {
        let n = state.withLock { s in
            let n = s.failures[key, default: 0]
            s.failures[key] = n + 1
            return n
        }
        metrics.retries.increment()
        add(key, after: min(maxDelay, baseDelay * pow(2, Double(min(n, 30)))))
    }

    /// Clears the key's failure count after a success.
    public func forget(_ key: Key) { state.withLock { _ = $0.failures.removeValue(forKey: key) } }

    /// The next key to process, or nil once shut down.
    public func get() async -> Key? {
        // Taken under the lock in one go: either a key now, or this worker waits in line.
        return await withCheckedContinuation { (c: CheckedContinuation<Key?, Never>) in
            let next = state.withLock { s -> Taken in
                // Shut down: no new work, even if keys are waiting.
                if s.shuttingDown { return .none }
                guard !s.queue.isEmpty else {
                    s.waiters.append(c)
                    return .wait
                }
                let (key, since) = s.queue.removeFirst()
                s.queued.remove(key)
                s.processing.insert(key)
                return .key(key, depth: s.queue.count, waited: ContinuousClock.now - since)
            }
            switch next {
            case .key(let key, let depth, let waited):
                metrics.depth.record(depth)
                metrics.wait.record(duration: waited)
                c.resume(returning: key)
            case .none:
                c.resume(returning: nil)
            case .wait:
                break
            }
        }
    }

    /// Marks the key processed; if it was added meanwhile, it is queued again.
    public func done(_ key: Key) {
        let again = state.withLock { s in
            s.processing.remove(key)
            return s.dirty.remove(key) != nil
        }
        if again { add(key) }
    }

    /// Stops handing out keys; waiting workers get nil.
    public func shutDown() {
        let waiters = state.withLock { s in
            s.shuttingDown = true
            for t in s.timers.values { t.task.cancel() }
            s.timers = [:]
            defer { s.waiters = [] }
            return s.waiters
        }
        for w in waiters { w.resume(returning: nil) }
    }
}

extension WorkQueue {
    /// One worker: takes keys until shut down and reconciles each. A reconcile
    /// returns when to look again; a failure backs off (a 409 or a failed
    /// JSON patch test quietly: the next reconcile works from fresh state).
    func work(logger: Logger, timer: Metrics.Timer, errors: Counter, _ reconcile: (Key) async throws -> Double?) async {
        while let key = await get() {
            let start = ContinuousClock.now
            do {
                let requeue = try await reconcile(key)
                timer.record(duration: ContinuousClock.now - start)
                forget(key)
                if let requeue { add(key, after: requeue) }
            } catch {
                timer.record(duration: ContinuousClock.now - start)
                errors.increment()
                if error.isStaleWrite {
                    logger.debug("\(key): conflict, retrying from fresh state (\(error))")
                } else {
                    logger.warning("\(key): reconcile failed: \(error)")
                }
                addRateLimited(key)
            }
            done(key)
        }
    }
}
