import Foundation
import Kube
import Metrics
import Rollouts
import Synchronization

/// Something a reconcile leaves to be done after it, best effort: it must not
/// hold a worker, and its failure never fails the reconcile.
public enum SideEffect: Sendable {
    /// A Kubernetes Event about a Rollout, stamped when it happened; `step` goes to the log line.
    case event(Rollouts.Event, about: ObjectMeta, step: Int? = nil, at: MicroTime = EventTime.next())
}

/// When events happen, in microseconds, never the same twice in this process:
/// one reconcile queues several events within a microsecond, and readers
/// (`kubectl get events --sort-by=.eventTime`) order them by this alone.
public enum EventTime {
    private static let last = Atomic<Int64>(0)

    /// Now, or a microsecond after the last stamp if the clock has not moved past it.
    public static func next(now: MicroTime = .now()) -> MicroTime {
        var seen = last.load(ordering: .relaxed)
        while true {
            let stamp = max(now.microsecondsSinceEpoch, seen &+ 1)
            let (done, current) = last.compareExchange(expected: seen, desired: stamp, ordering: .relaxed)
            if done { return MicroTime(microsecondsSinceEpoch: stamp) }
            seen = current
        }
    }
}

/// A bounded queue of side effects and the one loop that carries them out.
///
/// Reconciles `send` without waiting; a service in the process's ServiceGroup
/// `run`s the loop, so nothing is left in a task nobody waits for: on
/// SIGTERM the controller stops first, then `finish` lets the loop deliver
/// what is queued (the service bounds how long) and return. When the queue is
/// full the oldest effect is dropped and counted, so a slow or unreachable API
/// server never grows memory.
public final class SideEffects: Sendable {
    public typealias Deliver = @Sendable (SideEffect) async -> Void

    public let capacity: Int
    /// Deliveries in flight at once (events are independent; their times are stamped when queued).
    public let concurrency: Int
    private let stream: AsyncStream<SideEffect>
    private let continuation: AsyncStream<SideEffect>.Continuation
    /// Queued and not yet taken by the loop.
    private let waiting = Atomic<Int>(0)
    private let running = Atomic<Bool>(false)
    private let dropped = Counter(label: "aviary_side_effects_dropped_total")

    public init(capacity: Int = 1000, concurrency: Int = 4) {
        self.capacity = max(1, capacity)
        self.concurrency = max(1, concurrency)
        (stream, continuation) = AsyncStream.makeStream(of: SideEffect.self, bufferingPolicy: .bufferingNewest(self.capacity))
    }

    /// Queues an effect; never waits. Full: the oldest is dropped (and counted). Finished: this one is.
    public func send(_ effect: SideEffect) {
        waiting.add(1, ordering: .relaxed)
        switch continuation.yield(effect) {
        case .enqueued:
            break
        case .dropped:
            waiting.subtract(1, ordering: .relaxed)
            dropped.increment()
        case .terminated:
            waiting.subtract(1, ordering: .relaxed)
            dropped.increment()
        @unknown default:
            break
        }
    }

    /// Effects queued and not yet taken, for the shutdown log and tests.
    public var pending: Int { max(0, waiting.load(ordering: .relaxed)) }

    /// Delivers effects until `finish()` has been called and the queue is
    /// empty, or until cancelled (what is left is then dropped and counted).
    /// Call once: the queue has one reader.
    public func run(_ deliver: @escaping Deliver) async {
        guard !running.exchange(true, ordering: .acquiringAndReleasing) else { return }
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for await effect in stream {
                waiting.subtract(1, ordering: .relaxed)
                if inFlight >= concurrency {
                    await group.next()
                    inFlight -= 1
                }
                group.addTask { await deliver(effect) }
                inFlight += 1
            }
        }
        let left = pending
        if left > 0 { dropped.increment(by: left) }
    }

    /// No more effects are taken; `run` returns once the queued ones are delivered.
    public func finish() { continuation.finish() }
}
