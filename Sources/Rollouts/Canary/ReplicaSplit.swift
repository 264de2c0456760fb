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
    /// - When `maxSurge` allows, one pod above `replicas` is considered too,
    ///   but only for a different canary count: a surge pod that merely makes
    ///   the stable side bigger buys nothing. So 10 replicas at 1 % is 1 + 9
    ///   (not 1 + 10), while 5 at 50 % is 3 + 3 and 1 at 50 % is 1 + 1.
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
        func distance(_ s: ReplicaSplit) -> Double { abs(s.actualWeight - Double(weight)) }
        func best(_ options: [ReplicaSplit]) -> ReplicaSplit? {
            options.min { a, b in distance(a) != distance(b) ? distance(a) < distance(b) : a.canary < b.canary }
        }
        let bothSides = { (s: ReplicaSplit) in s.canary > 0 && s.stable > 0 }
        let base = best(candidates(total: replicas).filter(bothSides))
        if maxSurge > 0, let surged = best(candidates(total: replicas + 1).filter { bothSides($0) && $0.canary != base?.canary }),
           base == nil || distance(surged) < distance(base!) {
            return surged
        }
        // One replica and no surge: one side must be empty; take the closer one.
        return base ?? best(candidates(total: replicas))!
    }
}
