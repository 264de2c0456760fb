/// How many canary and stable pods a weight means when traffic follows pod
/// counts (no traffic router): the closest achievable split.
public struct ReplicaSplit: Equatable, Sendable, CustomStringConvertible {
    public var canary: Int
    public var stable: Int

    public init(canary: Int, stable: Int) {
        self.canary = canary
        self.stable = stable
    }

    public var total: Int { canary + stable }
    /// The weight this split actually gives, in percent.
    public var actualWeight: Double { total == 0 ? 0 : Double(canary) * 100 / Double(total) }
    public var description: String { "\(canary) canary + \(stable) stable" }

    /// The split for `weight` percent of `replicas`.
    ///
    /// - Candidates are the floor and the ceiling of replicas × weight / 100
    ///   canaries, the rest stable; the one whose weight is closest wins, and a
    ///   tie goes to the smaller canary.
    /// - For 1–99 % with more than one replica neither side may be empty.
    /// - One pod above `replicas` is used only when `maxSurge` allows it and no
    ///   split of `replicas` keeps both sides non-empty (1 replica at 50 % →
    ///   1 + 1). We chose this over "closest weight with a surge pod" so that
    ///   10 replicas at 1 % is 1 + 9, not 1 + 10: a surge pod that only makes
    ///   the stable side bigger buys nothing.
    public static func forWeight(_ weight: Int, replicas: Int, maxSurge: Int) -> ReplicaSplit {
        guard replicas > 0 else { return ReplicaSplit(canary: 0, stable: 0) }
        if weight <= 0 { return ReplicaSplit(canary: 0, stable: replicas) }
        if weight >= 100 { return ReplicaSplit(canary: replicas, stable: 0) }

        func candidates(total: Int) -> [ReplicaSplit] {
            let exactTimes100 = total * weight
            let floor = exactTimes100 / 100
            let ceil = (exactTimes100 + 99) / 100
            return Set([floor, ceil]).sorted().map { ReplicaSplit(canary: $0, stable: total - $0) }
        }
        func best(_ options: [ReplicaSplit]) -> ReplicaSplit? {
            options.min { a, b in
                let da = abs(a.actualWeight - Double(weight)), db = abs(b.actualWeight - Double(weight))
                return da != db ? da < db : a.canary < b.canary
            }
        }
        let bothSides = candidates(total: replicas).filter { $0.canary > 0 && $0.stable > 0 }
        if let split = best(bothSides) { return split }
        if maxSurge > 0, let split = best(candidates(total: replicas + 1).filter { $0.canary > 0 && $0.stable > 0 }) {
            return split
        }
        // One replica and no surge: one side must be empty; take the closer one.
        return best(candidates(total: replicas))!
    }
}
