import Foundation
import Kube
import Logging
import Metrics

/// Keys waiting to be reconciled, like controller-runtime's work queue:
/// - a key is queued at most once, however often it is added;
/// - a key being processed is never handed to a second worker; added again
///   meanwhile, it is queued once the first worker is done;
/// - failures back off per key, exponentially, capped low (10 s) so that a
///   flapping dependency never parks a Rollout for minutes;
/// - `add(_:after:)` wakes a key later (timed pauses, scale-down delays).
public actor WorkQueue {
    private var queue: [String] = []
    private var queued: Set<String> = []
    private var processing: Set<String> = []
    private var dirty: Set<String> = []
    private var failures: [String: Int] = [:]
    private var waiters: [CheckedContinuation<String?, Never>] = []
    private var timers: [String: (due: ContinuousClock.Instant, task: Task<Void, Never>)] = [:]
    private var shuttingDown = false
    public let baseDelay: Double
    public let maxDelay: Double
    let metrics: ControllerMetrics.Queue

    /// Keys waiting.
    public var depth: Int { queue.count }

    public init(name: String = "rollouts", baseDelay: Double = 0.005, maxDelay: Double = 10) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        metrics = ControllerMetrics.Queue(name)
    }

    public func add(_ key: String) {
        guard !shuttingDown else { return }
        if processing.contains(key) {
            dirty.insert(key)
            return
        }
        guard !queued.contains(key) else { return }
        queued.insert(key)
        metrics.adds.increment()
        if !waiters.isEmpty {
            queued.remove(key)
            processing.insert(key)
            waiters.removeFirst().resume(returning: key)
        } else {
            queue.append(key)
            metrics.depth.record(queue.count)
        }
    }

    /// Adds the key after `seconds`. A key has one pending wake-up: the sooner one wins.
    /// The longest a requeue waits: a day. Whatever a plan asks for, it is looked at again by then.
    public static let maxDelay = 86_400.0

    public func add(_ key: String, after seconds: Double) {
        guard !shuttingDown else { return }
        guard seconds > 0 else { return add(key) }  // NaN too
        // Look again at least daily: a wait computed from user data can be any size, and a clock
        // deadline past Int64 seconds would trap.
        let due = ContinuousClock.now + .seconds(min(seconds, WorkQueue.maxDelay))
        if let pending = timers[key] {
            if pending.due <= due { return }
            pending.task.cancel()
        }
        let task = Task { [weak self] in
            try? await Task.sleep(until: due, clock: .continuous)
            if !Task.isCancelled { await self?.fire(key, due: due) }
        }
        timers[key] = (due, task)
    }

    private func fire(_ key: String, due: ContinuousClock.Instant) {
        if timers[key]?.due == due { timers[key] = nil }
        add(key)
    }

    /// Wake-ups pending, for metrics and tests.
    public var pendingTimers: Int { timers.count }

    /// Adds the key after its next backoff delay: base × 2^failures, capped.
    public func addRateLimited(_ key: String) {
        let n = failures[key, default: 0]
        failures[key] = n + 1
        metrics.retries.increment()
        let delay = min(maxDelay, baseDelay * pow(2, Double(min(n, 30))))
        add(key, after: delay)
    }

    /// Clears the key's failure count after a success.
    public func forget(_ key: String) { failures[key] = nil }

    /// The next key to process, or nil once shut down.
    public func get() async -> String? {
        // Shut down: no new work, even if keys are waiting.
        if shuttingDown { return nil }
        if let key = next() { return key }
        return await withCheckedContinuation { waiters.append($0) }
    }

    private func next() -> String? {
        guard !queue.isEmpty else { return nil }
        let key = queue.removeFirst()
        metrics.depth.record(queue.count)
        queued.remove(key)
        processing.insert(key)
        return key
    }

    /// Marks the key processed; if it was added meanwhile, it is queued again.
    public func done(_ key: String) {
        processing.remove(key)
        if dirty.remove(key) != nil { add(key) }
    }

    /// Stops handing out keys; waiting workers get nil.
    public func shutDown() {
        shuttingDown = true
        for t in timers.values { t.task.cancel() }
        timers = [:]
        for w in waiters { w.resume(returning: nil) }
        waiters = []
    }
}

extension WorkQueue {
    /// One worker: takes keys until shut down and reconciles each. A reconcile
    /// returns when to look again; a failure backs off (a 409 quietly: the
    /// next reconcile works from fresh state).
    func work(logger: Logger, timer: Metrics.Timer, errors: Counter, _ reconcile: (String) async throws -> Double?) async {
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
                if let e = error as? KubeError, e.isConflict {
                    logger.debug("\(key): conflict, retrying from fresh state")
                } else {
                    logger.warning("\(key): reconcile failed: \(error)")
                }
                addRateLimited(key)
            }
            done(key)
        }
    }
}
