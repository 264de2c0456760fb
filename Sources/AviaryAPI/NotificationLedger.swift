import KubeAPI

/// Notifications still to be sent for a Rollout, kept in its status (an
/// outbox): the reconcile that records an event writes it here together with
/// the transition, in the same status write, and the delivery loop removes it
/// once sent. So a controller killed between the two, or a failover, loses no
/// message and sends none twice: the next leader finds what is pending.
/// Only Rollouts with a subscription annotation carry one.
public struct NotificationLedger: Codable, Sendable, Hashable {
    /// At most this many wait; the oldest go first (a receiver down for days must not grow the status).
    public static let capacity = 20
    /// An event message is cut to this many characters here (the rendered text is capped again).
    public static let maxMessage = 2_048
    /// Custom trigger conditions with `oncePer` remembered at most.
    public static let maxOncePer = 100

    public var pending: [PendingNotification]?
    /// The next entry's id: ids never repeat within one Rollout.
    public var next: Int?
    /// For a custom trigger with `oncePer`: trigger condition → the value it was last sent for.
    public var oncePer: [String: String]?

    public init(pending: [PendingNotification]? = nil, next: Int? = nil, oncePer: [String: String]? = nil) {
        self.pending = pending
        self.next = next
        self.oncePer = oncePer
    }

    enum CodingKeys: String, CodingKey { case pending, next, oncePer }

    /// Field by field: a hostile or broken entry reads as absent, never as a failed decode.
    public init(from decoder: Decoder) throws {
        var r = try LenientReader(decoder, CodingKeys.self)
        pending = r.list(.pending).map { Array($0.prefix(Self.capacity)) }
        next = r.count(.next)
        // Bounded like the rest: a hand-written map of thousands of keys reads as none.
        oncePer = (r(.oncePer) as [String: String]?).flatMap { $0.count <= Self.maxOncePer ? $0 : nil }
    }

    public var isEmpty: Bool { (pending ?? []).isEmpty && (oncePer ?? [:]).isEmpty }

    /// Queues events (reason, message, warning) seen at `time`, oldest dropped beyond the capacity.
    public mutating func record(_ events: [(reason: String, message: String, warning: Bool, trigger: String?, run: String?)], at time: KubeTime) {
        guard !events.isEmpty else { return }
        var list = pending ?? []
        var id = max(next ?? 0, (list.map(\.id).max() ?? -1) + 1)
        for e in events {
            list.append(PendingNotification(id: id, reason: e.reason, message: String(e.message.prefix(Self.maxMessage)),
                                            warning: e.warning ? true : nil, time: time, trigger: e.trigger.map { String($0.prefix(253)) },
                                            run: e.run.map { String($0.prefix(253)) }))
            id = id == Int.max ? 0 : id + 1
        }
        pending = Array(list.suffix(Self.capacity))
        next = id
    }

    /// Removes the entries sent (or given up on), by id.
    public mutating func remove(ids: Set<Int>) {
        pending?.removeAll { ids.contains($0.id) }
        if pending?.isEmpty == true { pending = nil }
    }
}

/// One event a notification is owed for.
public struct PendingNotification: Codable, Sendable, Hashable {
    public var id: Int
    /// The event's reason (e.g. RolloutAborted); an unknown one is dropped unsent.
    public var reason: String
    public var message: String
    public var warning: Bool?
    public var time: KubeTime
    /// The one trigger this event fires (a metric's `onFailure: {notify}`); nil: its reason's.
    public var trigger: String?
    /// The AnalysisRun that decided the event, so the message describes that one.
    public var run: String?

    public init(id: Int, reason: String, message: String, warning: Bool? = nil, time: KubeTime, trigger: String? = nil, run: String? = nil) {
        self.trigger = trigger
        self.run = run
        self.id = id
        self.reason = reason
        self.message = message
        self.warning = warning
        self.time = time
    }
}
