import Kube
import Logging
import Rollouts
import ServiceLifecycle
import Synchronization
import Testing
@testable import Controller
@testable import Runtime

/// The bounded queue events go through: order, the drop-oldest bound, and the
/// flush on graceful shutdown that replaced a task nobody waited for.
@Suite struct SideEffectsTests {
    static func event(_ n: Int) -> SideEffect {
        .event(Event(reason: .rolloutUpdated, message: "e\(n)"), about: ObjectMeta(name: "web", namespace: "ns"))
    }

    static func message(_ e: SideEffect) -> String {
        switch e {
        case .event(let event, _, _, _): event.message
        }
    }

    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func effectsAreDeliveredInOrderAndRunEndsOnceFinished() async {
        let effects = SideEffects(capacity: 10, concurrency: 1)
        let seen = Lines()
        for n in 1...3 { effects.send(Self.event(n)) }
        #expect(effects.pending == 3)
        effects.finish()
        await effects.run { seen.append(Self.message($0)) }
        #expect(seen.all == ["e1", "e2", "e3"])
        #expect(effects.pending == 0)
    }

    @Test func aFullQueueDropsTheOldest() async {
        let effects = SideEffects(capacity: 2, concurrency: 1)
        let seen = Lines()
        for n in 1...5 { effects.send(Self.event(n)) }
        #expect(effects.pending == 2)
        effects.finish()
        await effects.run { seen.append(Self.message($0)) }
        #expect(seen.all == ["e4", "e5"], "the newest are kept")
    }

    @Test func nothingIsTakenAfterFinish() async {
        let effects = SideEffects(capacity: 10)
        effects.finish()
        effects.send(Self.event(1))
        #expect(effects.pending == 0)
        let seen = Lines()
        await effects.run { seen.append(Self.message($0)) }
        #expect(seen.all.isEmpty)
    }

    @Test func eventsAreStampedWhenQueuedNotWhenSent() async throws {
        let before = MicroTime.now()
        let effect = Self.event(1)
        guard case .event(_, _, _, let at) = effect else { return }
        #expect(at >= before && at <= EventTime.next())
    }

    @Test func eventsQueuedInOneMicrosecondStillSortInOrder() {
        let now = MicroTime.now()
        let stamps = (0..<100).map { _ in EventTime.next(now: now) }
        #expect(zip(stamps, stamps.dropFirst()).allSatisfy { $0 < $1 }, "strictly increasing, even with the clock standing still")
    }

    /// Delivers slowly, as a loaded API server answers.
    final class SlowSink: Sendable {
        let seen = Lines()
        let delay: Duration
        init(delay: Duration) { self.delay = delay }
        func deliver(_ e: SideEffect) async {
            try? await Task.sleep(for: delay)
            if !Task.isCancelled { seen.append(SideEffectsTests.message(e)) }
        }
    }

    /// The ServiceGroup as the controller's command builds it, with a stand-in for the controller.
    static func group(_ effects: SideEffects, _ sink: SlowSink, flushTimeout: Duration) -> ServiceGroup {
        ServiceGroup(configuration: .init(
            services: [.init(service: SideEffectsService(effects: effects, deliver: { await sink.deliver($0) }, flushTimeout: flushTimeout,
                                                         logger: quiet))],
            logger: quiet))
    }

    /// A service that only sleeps must still end on SIGTERM: the trim service once kept the controller
    /// (and its Lease) alive after SIGTERM, which the leader hand-over e2e test caught.
    @Test func theMemoryTrimServiceEndsOnGracefulShutdown() async throws {
        let group = ServiceGroup(configuration: .init(services: [.init(service: MemoryTrimService(interval: .seconds(3600)))], logger: Self.quiet))
        let running = Task { try await group.run() }
        try await Task.sleep(for: .milliseconds(50))
        await group.triggerGracefulShutdown()
        try await running.value
    }

    @Test func gracefulShutdownDeliversWhatIsQueuedBeforeReturning() async throws {
        let effects = SideEffects(capacity: 100, concurrency: 2)
        let sink = SlowSink(delay: .milliseconds(30))
        let group = Self.group(effects, sink, flushTimeout: .seconds(30))
        let running = Task { try await group.run() }
        for n in 1...10 { effects.send(Self.event(n)) }
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(sink.seen.all.sorted() == (1...10).map { "e\($0)" }.sorted(), "every queued event went out before the service returned")
    }

    @Test func theFlushOnShutdownIsBounded() async throws {
        let effects = SideEffects(capacity: 100, concurrency: 1)
        let sink = SlowSink(delay: .seconds(600))
        let group = Self.group(effects, sink, flushTimeout: .milliseconds(200))
        let running = Task { try await group.run() }
        for n in 1...3 { effects.send(Self.event(n)) }
        let start = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        // Not the 600 s a delivery would take: the bound says the flush was cut short, not how fast (a loaded machine may be slow).
        #expect(ContinuousClock.now - start < .seconds(60))
        #expect(sink.seen.all.isEmpty)
    }
}
