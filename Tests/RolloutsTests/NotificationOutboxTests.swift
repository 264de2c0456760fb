import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Rollouts

/// The plan records notifications owed in the same status write as the
/// transition, and only for Rollouts that subscribe to them.
@Suite struct NotificationOutboxTests {
    func deployed(annotations: [String: String]?) -> World {
        var w = World(steps: [.weight(50), .pause()])
        w.rollout.metadata.annotations = annotations
        w.settle()
        return w
    }

    @Test func noSubscriptionNoOutbox() {
        var w = deployed(annotations: nil)
        w.setImage("web:2")
        w.settle()
        #expect(w.status.notifications == nil)
    }

    @Test func aSubscriptionToOneTriggerRecordsOnlyItsEvents() throws {
        var w = deployed(annotations: ["notifications.aviary.dev/subscribe.on-rollout-paused.slack": "#deploys"])
        // The first deploy's events (completed, scaling) are not for this subscription.
        #expect(w.status.notifications?.pending == nil)
        w.setImage("web:2")
        w.settle()
        let pending = try #require(w.status.notifications?.pending)
        #expect(pending.map(\.reason) == ["RolloutPaused"])
        #expect(pending.first?.time == w.now)
        #expect(w.status.notifications?.next == 1)
    }

    @Test func argoPrefixAndDefaultTriggersRecordEveryEvent() throws {
        var w = deployed(annotations: ["notifications.argoproj.io/subscribe.webhook": ""])
        let first = w.status.notifications?.pending?.map(\.reason) ?? []
        #expect(first.contains("RolloutCompleted"))
        // Ids go on from where they were; delivery removes what it sent.
        var ledger = try #require(w.status.notifications)
        ledger.remove(ids: Set(ledger.pending?.map(\.id) ?? []))
        w.rollout.status?.notifications = ledger
        w.setImage("web:2")
        w.settle()
        let ids = w.status.notifications?.pending?.map(\.id) ?? []
        #expect(ids.first == first.count)
        #expect(w.status.notifications?.pending?.contains { $0.reason == "RolloutUpdated" } == true)
    }

    @Test func theLedgerIsBoundedAndIdsNeverRepeat() {
        var ledger = NotificationLedger(next: Int.max - 1)
        ledger.record((0..<50).map { _ in (reason: "RolloutUpdated", message: String(repeating: "x", count: 10_000), warning: false, trigger: nil, run: nil) },
                      at: KubeTime(secondsSinceEpoch: 0))
        #expect(ledger.pending?.count == NotificationLedger.capacity)
        #expect(ledger.pending?.allSatisfy { $0.message.count == NotificationLedger.maxMessage } == true)
        #expect(Set(ledger.pending?.map(\.id) ?? []).count == NotificationLedger.capacity)
    }

    @Test func aHostileLedgerReadsAsWhatCanBeRead() throws {
        let json = #"{"notifications": {"pending": [{"id": -1, "reason": 5}, {"id": 3, "reason": "RolloutAborted", "message": "m", "time": "2026-01-01T00:00:00Z"}], "next": 1e300, "oncePer": "nope"}}"#
        let status = try JSONDecoder().decode(RolloutStatus.self, from: Data(json.utf8))
        #expect(status.notifications?.pending?.map(\.id) == [3])
        #expect(status.notifications?.next == nil)
        #expect(status.notifications?.oncePer == nil)
    }
}
