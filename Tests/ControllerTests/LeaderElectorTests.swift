import Kube
import Logging
import Synchronization
import Testing
@testable import Runtime

/// The elector's rules, one `step` at a time, against a Lease kept in memory
/// and a clock that moves only when told: taking a free, released or expired
/// Lease; renewing; and stopping at the renew deadline or when someone else
/// holds the Lease.
@Suite struct LeaderElectorTests {
    /// Time that moves only by `advance`.
    final class FakeClock: ElectionClock {
        private let start = ContinuousClock.now
        private let offset = Mutex(Duration.zero)

        var now: ContinuousClock.Instant { start + offset.withLock { $0 } }
        func advance(_ d: Duration) { offset.withLock { $0 += d } }
        func sleep(for duration: Duration) async throws { advance(duration) }
    }

    /// A Lease in memory with the API's optimistic concurrency: a replace at a stale resourceVersion is a 409.
    final class FakeLeaseStore: LeaseStore {
        struct Down: Error {}
        private struct State {
            var lease: Lease?
            var version = 0
            var down = false
            var writes = 0
        }
        private let state = Mutex(State())

        var lease: Lease? { state.withLock { $0.lease } }
        var writes: Int { state.withLock { $0.writes } }
        /// While down, every request fails as an unreachable API server's would.
        func setDown(_ down: Bool) { state.withLock { $0.down = down } }

        /// Someone else writes the Lease (another controller, an operator).
        func edit(_ change: (inout Lease.Spec) -> Void) {
            state.withLock { s in
                guard var lease = s.lease else { return }
                var spec = lease.spec ?? Lease.Spec()
                change(&spec)
                lease.spec = spec
                s.version += 1
                lease.metadata.resourceVersion = String(s.version)
                s.lease = lease
            }
        }

        func get(timeout: Duration?) async throws -> Lease? {
            try state.withLock { s in
                if s.down { throw Down() }
                return s.lease
            }
        }

        func create(_ lease: Lease) async throws {
            try state.withLock { s in
                if s.down { throw Down() }
                guard s.lease == nil else { throw KubeError.api(code: 409, status: Status(reason: "AlreadyExists", code: 409)) }
                s.version += 1
                var stored = lease
                stored.metadata.resourceVersion = String(s.version)
                s.lease = stored
                s.writes += 1
            }
        }

        func replace(_ lease: Lease, timeout: Duration?) async throws {
            try state.withLock { s in
                if s.down { throw Down() }
                guard lease.metadata.resourceVersion == String(s.version) else {
                    throw KubeError.api(code: 409, status: Status(reason: "Conflict", code: 409))
                }
                s.version += 1
                var stored = lease
                stored.metadata.resourceVersion = String(s.version)
                s.lease = stored
                s.writes += 1
            }
        }

        func watchReleases(_ released: @escaping @Sendable () -> Void) async {}
    }

    struct World {
        let clock = FakeClock()
        let store = FakeLeaseStore()
        let losses = Lines()

        func elector(_ identity: String) -> LeaderElector {
            let e = LeaderElector(store: store, clock: clock,
                                  config: .init(namespace: "ns", identity: identity, leaseDuration: .seconds(15), renewDeadline: .seconds(10),
                                                retryPeriod: .seconds(2), version: "0.1.0"),
                                  logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
            e.onLoss { [losses] in losses.append($0.reason) }
            return e
        }
    }

    @Test func aFreeLeaseIsTakenAtOnce() async throws {
        let w = World()
        let e = w.elector("me")
        #expect(try await e.step() == .again)
        #expect(e.isLeader)
        try await e.waitForLeadership()
        let lease = try #require(w.store.lease)
        #expect(lease.spec?.holderIdentity == "me")
        #expect(lease.spec?.leaseDurationSeconds == 15)
        #expect(lease.spec?.leaseTransitions == 0)
        #expect(lease.metadata.annotations?[LeaderElector.versionAnnotation] == "0.1.0")
    }

    @Test func aLeaderRenewsEveryRetryPeriod() async throws {
        let w = World()
        let e = w.elector("me")
        _ = try await e.step()
        let before = try #require(w.store.lease?.spec?.renewTime)
        w.clock.advance(.milliseconds(10))
        #expect(try await e.step() == .renewAfter(.seconds(2)))
        #expect(w.store.writes == 2, "created, then renewed")
        #expect(try #require(w.store.lease?.spec?.renewTime) >= before)
        #expect(w.store.lease?.spec?.leaseTransitions == 0, "renewing is no transition")
        #expect(e.isLeader)
    }

    @Test func aLeaderThatCannotRenewStopsAtTheRenewDeadline() async throws {
        let w = World()
        let e = w.elector("me")
        _ = try await e.step()
        w.store.setDown(true)
        w.clock.advance(.seconds(3))
        // A failed renewal is not yet a loss: the next attempt is due within the deadline.
        #expect(try await e.step() == .renewAfter(.seconds(2)))
        #expect(e.isLeader)
        w.clock.advance(.seconds(6))
        #expect(try await e.step() == .renewAfter(.seconds(1)), "the last attempt waits only until the deadline")
        w.clock.advance(.seconds(1) + .milliseconds(1))
        await #expect(throws: LeaderElector.LostLeadership.self) { try await e.step() }
        #expect(!e.isLeader)
        #expect(w.losses.all.count == 1)
        #expect(w.losses.all.first?.contains("renew deadline") == true)
    }

    @Test func aLeaderStopsAsSoonAsSomeoneElseHoldsTheLease() async throws {
        let w = World()
        let e = w.elector("me")
        _ = try await e.step()
        w.store.edit { $0.holderIdentity = "intruder" }
        await #expect(throws: LeaderElector.LostLeadership.self) { try await e.step() }
        #expect(!e.isLeader)
        #expect(w.losses.all == ["the Lease is now held by \"intruder\""])
        #expect(w.store.lease?.spec?.holderIdentity == "intruder", "nothing written back")
    }

    @Test func aFollowerWaitsOutTheLeaseDurationOnItsOwnClock() async throws {
        let w = World()
        let leader = w.elector("leader")
        let follower = w.elector("follower")
        _ = try await leader.step()
        #expect(try await follower.step() == .retryAfter(.seconds(2)))
        // The leader renews: the record changes, and the follower's count starts again from when it saw that.
        w.clock.advance(.seconds(8))
        try await Task.sleep(for: .milliseconds(2))  // so the renewTime written (wall clock) differs
        #expect(try await leader.step() == .renewAfter(.seconds(2)))
        #expect(try await follower.step() == .retryAfter(.seconds(2)))
        // The leader dies. Fourteen seconds after the follower last saw a change, it still waits…
        w.clock.advance(.seconds(14))
        #expect(try await follower.step() == .retryAfter(.seconds(2)))
        #expect(!follower.isLeader)
        // …and past the lease duration it takes over, counting a transition.
        w.clock.advance(.seconds(2))
        #expect(try await follower.step() == .again)
        #expect(follower.isLeader)
        #expect(w.store.lease?.spec?.holderIdentity == "follower")
        #expect(w.store.lease?.spec?.leaseTransitions == 1)
        // The old leader, had it survived, finds the Lease taken.
        await #expect(throws: LeaderElector.LostLeadership.self) { try await leader.step() }
    }

    @Test func aReleasedLeaseIsTakenWithoutWaiting() async throws {
        let w = World()
        let leader = w.elector("leader")
        let follower = w.elector("follower")
        _ = try await leader.step()
        #expect(try await follower.step() == .retryAfter(.seconds(2)))
        await leader.release()
        #expect(!leader.isLeader)
        #expect(w.store.lease?.spec?.holderIdentity == nil)
        #expect(try await follower.step() == .again)
        #expect(follower.isLeader)
    }

    @Test func twoCandidatesForAnExpiredLeaseGiveOneLeader() async throws {
        let w = World()
        let a = w.elector("a"), b = w.elector("b"), old = w.elector("old")
        _ = try await old.step()
        _ = try await a.step()
        _ = try await b.step()
        w.clock.advance(.seconds(16))
        // Both may take the expired record; the first does, and the second then sees a fresh one and waits.
        #expect(try await a.step() == .again)
        #expect(try await b.step() == .retryAfter(.seconds(2)))
        #expect(a.isLeader && !b.isLeader)
        #expect(w.store.lease?.spec?.holderIdentity == "a")
    }
}
