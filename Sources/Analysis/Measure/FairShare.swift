/// A fair share of a pool of `limit` slots (the controller's analysis
/// workers), by key (namespace). A key may take a slot while it holds fewer
/// than its share: the pool split evenly across the keys holding slots,
/// counting itself, and never more than `Bulkhead.fairPerKeyLimit(limit)`,
/// so a key alone leaves a quarter of the pool for others to start at once.
/// With 10 workers: a lone namespace gets 8; two busy namespaces 5 each; ten, 1 each.
/// A key over its share waits its turn (the controller requeues it shortly)
/// rather than holding a worker. Pure; the caller serialises access.
public struct FairShare: Sendable {
    public let limit: Int
    public private(set) var held: [String: Int] = [:]

    public init(limit: Int) { self.limit = max(1, limit) }

    public func share(for key: String) -> Int {
        let active = held.count + (held[key] == nil ? 1 : 0)
        return min(max(1, limit / max(1, active)), Bulkhead.fairPerKeyLimit(limit))
    }

    /// Takes a slot for `key` if that is fair; false when the key must wait.
    public mutating func take(_ key: String) -> Bool {
        let h = held[key, default: 0]
        guard h < share(for: key), held.values.reduce(0, +) < limit else { return false }
        held[key] = h + 1
        return true
    }

    public mutating func give(_ key: String) {
        let left = held[key, default: 1] - 1
        held[key] = left > 0 ? left : nil
    }
}
