/// The exact null distribution of the Mann-Whitney U statistic for samples
/// of m and n distinct values: how many of the C(m+n, m) equally likely
/// orderings give each U. Used, as R's `wilcox.test` does, when both samples
/// are smaller than `limit` and nothing is tied; beyond that the normal
/// approximation is accurate and this table would be large.
public struct ExactU: Sendable {
    public let m: Int
    public let n: Int
    /// counts[u]: orderings with U = u (as Double: C(98, 49) ≈ 2.5e28 overflows Int).
    let counts: [Double]
    let total: Double

    /// R's bound: exact below 50 in each sample.
    public static let limit = 50

    /// nil outside 0..<limit for either size.
    public init?(m: Int, n: Int) {
        guard (0..<Self.limit).contains(m), (0..<Self.limit).contains(n) else { return nil }
        self.m = m
        self.n = n
        // f(i, j)(u) = f(i−1, j)(u − j) + f(i, j−1)(u): the largest value is
        // either an x (above all j y's, adding j) or a y (adding nothing).
        var previous = [[Double]](repeating: [1], count: m + 1)  // j = 0
        if n > 0, m > 0 {
            for j in 1...n {
                var current = [[Double]](repeating: [1], count: m + 1)  // i = 0
                for i in 1...m {
                    var f = [Double](repeating: 0, count: i * j + 1)
                    for (u, c) in previous[i].enumerated() { f[u] += c }
                    for (u, c) in current[i - 1].enumerated() { f[u + j] += c }
                    current[i] = f
                }
                previous = current
            }
        }
        counts = previous[m]
        total = counts.reduce(0, +)
    }

    /// P(U ≤ u).
    public func cdf(_ u: Int) -> Double {
        guard u >= 0 else { return 0 }
        guard u < counts.count - 1 else { return 1 }
        return min(1, counts[0...u].reduce(0, +) / total)
    }

    /// P(U ≥ u), summed from the top rather than as 1 − cdf, which would
    /// round a tail of 1e-18 to 0.
    public func upperTail(_ u: Int) -> Double {
        guard u > 0 else { return 1 }
        guard u < counts.count else { return 0 }
        return min(1, counts[u...].reduce(0, +) / total)
    }

    /// The smallest u with P(U ≤ u) ≥ p (R's `qwilcox`).
    public func quantile(_ p: Double) -> Int {
        var sum = 0.0
        for (u, c) in counts.enumerated() {
            sum += c
            if sum / total >= p { return u }
        }
        return counts.count - 1
    }
}
