import DequeModule

/// At most `limit` measurements at a time, apart from the rollout workers: a
/// slow provider fills this compartment and no other.
///
/// Fair across keys (the controller keys by namespace), so one tenant cannot
/// crowd out the others:
/// - a free slot goes to the waiting key that holds the fewest slots (the one
///   that has waited longest among equals), so while others wait no key gets
///   a slot beyond theirs: n busy keys end up with limit/n each;
/// - no key ever holds more than `perKeyLimit` slots, even alone, so a key
///   that arrives while another floods the bulkhead starts at once.
///   `Bulkhead.fairPerKeyLimit` keeps a quarter (at least one slot) for the others.
public actor Bulkhead {
    public let limit: Int
    public let perKeyLimit: Int
    private var held: [String: Int] = [:]
    private var inUse = 0
    private var waiting: Deque<(key: String, continuation: CheckedContinuation<Void, Never>)> = []

    /// Without `perKeyLimit`, one key may take every slot.
    public init(limit: Int, perKeyLimit: Int? = nil) {
        self.limit = max(1, limit)
        self.perKeyLimit = max(1, min(perKeyLimit ?? self.limit, self.limit))
    }

    /// Three quarters of `limit`, keeping at least one slot for other keys when there are two or more.
    public static func fairPerKeyLimit(_ limit: Int) -> Int {
        let limit = max(1, limit)
        return max(1, limit - max(1, limit / 4))
    }

    public func run<T: Sendable>(key: String = "", _ work: @Sendable () async -> T) async -> T {
        await acquire(key)
        let result = await work()
        release(key)
        return result
    }

    /// Slots a key holds now, for tests and metrics.
    public func holding(_ key: String) -> Int { held[key, default: 0] }

    /// Measurements waiting for a slot, for tests and metrics.
    public var waitingCount: Int { waiting.count }

    private func acquire(_ key: String) async {
        if waiting.isEmpty, inUse < limit, held[key, default: 0] < perKeyLimit {
            take(key)
            return
        }
        await withCheckedContinuation { continuation in
            waiting.append((key, continuation))
            dispatch()
        }
    }

    private func release(_ key: String) {
        inUse -= 1
        let left = held[key, default: 1] - 1
        held[key] = left > 0 ? left : nil
        dispatch()
    }

    private func take(_ key: String) {
        inUse += 1
        held[key, default: 0] += 1
    }

    /// Hands free slots to waiters, fewest-held first.
    private func dispatch() {
        while inUse < limit, let i = Self.next(waiting: waiting.map(\.key), held: held, perKeyLimit: perKeyLimit) {
            let waiter = waiting.remove(at: i)
            take(waiter.key)
            waiter.continuation.resume()
        }
    }

    /// Which waiter gets the next free slot: among keys under `perKeyLimit`,
    /// the first waiter of the key holding the fewest. Pure, for tests.
    static func next(waiting: [String], held: [String: Int], perKeyLimit: Int) -> Int? {
        var best: Int?
        var bestHeld = Int.max
        var seen: Set<String> = []
        for (i, key) in waiting.enumerated() where seen.insert(key).inserted {
            let h = held[key, default: 0]
            if h < perKeyLimit, h < bestHeld {
                best = i
                bestHeld = h
            }
        }
        return best
    }
}
