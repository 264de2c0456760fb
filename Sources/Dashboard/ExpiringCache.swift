import Synchronization

/// A small map whose entries expire after `lifetime` and which never holds
/// more than `capacity`: when full, expired entries go first, then the
/// oldest. For the in-cluster dashboard's review answers, so a flood of
/// distinct tokens or namespaces cannot grow memory without bound.
final class ExpiringCache<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct Entry { var value: Value; var stored: ContinuousClock.Instant }
    private let entries = Mutex<[Key: Entry]>([:])
    let lifetime: Duration
    let capacity: Int
    let clock: @Sendable () -> ContinuousClock.Instant

    init(lifetime: Duration, capacity: Int, clock: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
        self.clock = clock
    }

    func get(_ key: Key) -> Value? {
        let now = clock()
        return entries.withLock { e in
            guard let entry = e[key] else { return nil }
            guard now - entry.stored < lifetime else {
                e[key] = nil
                return nil
            }
            return entry.value
        }
    }

    func set(_ key: Key, _ value: Value) {
        let now = clock()
        entries.withLock { e in
            if e[key] == nil, e.count >= capacity {
                e = e.filter { now - $0.value.stored < lifetime }
                while e.count >= capacity, let oldest = e.min(by: { $0.value.stored < $1.value.stored })?.key { e[oldest] = nil }
            }
            e[key] = Entry(value: value, stored: now)
        }
    }

    var count: Int { entries.withLock { $0.count } }
    /// The keys held, for tests (they must never be a token).
    var keys: [Key] { entries.withLock { Array($0.keys) } }
}
