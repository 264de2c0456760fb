import AviaryAPI
import KubeAPI

/// Which of a plan's events are owed a notification, decided with the plan:
/// they go into the status write that records the transition
/// (`status.notifications`), so delivery survives a restart (see `NotificationLedger`).
enum NotificationOutbox {
    /// Records the events some subscription of the Rollout may want: one that
    /// names the event's built-in trigger, a custom trigger (its `when` is
    /// judged at delivery), or none (the configured default triggers).
    static func record(_ actions: [Action], of rollout: Rollout, into status: inout RolloutStatus, now: KubeTime) {
        let subscriptions = Subscription.read(rollout.metadata.annotations)
        guard !subscriptions.isEmpty else { return }
        let builtIn = Set(EventReason.allCases.compactMap(\.builtInTrigger))
        let wantsAny = subscriptions.contains { $0.trigger.isEmpty || !builtIn.contains($0.trigger) }
        let named = Set(subscriptions.map(\.trigger))
        var owed: [(reason: String, message: String, warning: Bool, trigger: String?, run: String?)] = []
        for case .event(let e) in actions where e.reason != .notificationFailed {
            let trigger = e.trigger ?? e.reason.builtInTrigger
            guard wantsAny || trigger.map(named.contains) == true else { continue }
            owed.append((e.reason.rawValue, e.message, e.warning, e.trigger, e.run))
        }
        guard !owed.isEmpty else { return }
        var ledger = status.notifications ?? NotificationLedger()
        ledger.record(owed, at: now)
        status.notifications = ledger
    }
}
