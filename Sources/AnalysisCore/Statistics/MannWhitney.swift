/// The Mann-Whitney U test (Wilcoxon rank-sum test) of whether x tends to
/// be larger or smaller than y, computed as R's `wilcox.test(x, y)` and
/// scipy's `mannwhitneyu(x, y)` compute it, so their outputs are the test's
/// reference: U is x's statistic (pairs with x above y, ties counting ½);
/// exact p-values when both samples are under 50 and nothing is tied,
/// otherwise the normal approximation with the tie correction of the
/// variance and a continuity correction of ½.
///
/// The inputs must be finite (the caller drops NaN and ±Inf and says how
/// many); empty samples give p = 1, since nothing was shown.
public enum MannWhitney {
    /// Which difference the test looks for.
    public enum Alternative: String, Sendable, CaseIterable {
        /// x differs from y either way.
        case twoSided
        /// x tends to be larger than y.
        case greater
        /// x tends to be smaller than y.
        case less
    }

    public struct Result: Sendable, Equatable {
        /// x's U (R's W): the pairs with x above y, ties counting ½.
        public var u: Double
        public var pValue: Double
        /// True when the p-value comes from the exact distribution.
        public var exact: Bool
        /// The normal approximation's z (continuity-corrected); nil when exact.
        public var z: Double?
    }

    /// Midranks (1-based) of the pooled values, and the tie groups' sizes.
    static func ranks(_ pooled: [Double]) -> (ranks: [Double], ties: [Int]) {
        let order = pooled.indices.sorted { pooled[$0] < pooled[$1] }
        var ranks = [Double](repeating: 0, count: pooled.count)
        var ties: [Int] = []
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, pooled[order[end + 1]] == pooled[order[start]] { end += 1 }
            let midrank = Double(start + end + 2) / 2
            for k in start...end { ranks[order[k]] = midrank }
            if end > start { ties.append(end - start + 1) }
            start = end + 1
        }
        return (ranks, ties)
    }

    public static func test(_ x: [Double], _ y: [Double], alternative: Alternative = .twoSided) -> Result {
        let m = Double(x.count), n = Double(y.count)
        guard !x.isEmpty, !y.isEmpty else { return Result(u: 0, pValue: 1, exact: false, z: nil) }
        let (r, ties) = ranks(x + y)
        let rankSumX = r[0..<x.count].reduce(0, +)
        let u = rankSumX - m * (m + 1) / 2
        if ties.isEmpty, let exact = ExactU(m: x.count, n: y.count) {
            return Result(u: u, pValue: exactP(u: u, exact, alternative), exact: true, z: nil)
        }
        let (z, p) = normalP(u: u, m: m, n: n, ties: ties, alternative: alternative)
        return Result(u: u, pValue: p, exact: false, z: z)
    }

    /// R's rule: two-sided doubles the tail on U's side of the mean, capped at 1.
    static func exactP(u: Double, _ exact: ExactU, _ alternative: Alternative) -> Double {
        // U is a whole number here (no ties), at most 49 × 49.
        let whole = Int(u.rounded())
        switch alternative {
        case .greater: return exact.upperTail(whole)
        case .less: return exact.cdf(whole)
        case .twoSided:
            let tail = u > Double(exact.m * exact.n) / 2 ? exact.upperTail(whole) : exact.cdf(whole)
            return min(1, 2 * tail)
        }
    }

    /// σ² = mn/12 · ((m+n+1) − Σ(t³−t) / ((m+n)(m+n−1))) over the tie groups' sizes t.
    static func variance(m: Double, n: Double, ties: [Int]) -> Double {
        let total = m + n
        let correction = ties.reduce(0.0) { sum, t in let d = Double(t); return sum + (d * d * d - d) }
        let tieTerm = total > 1 ? correction / (total * (total - 1)) : 0
        return max(0, m * n / 12 * ((total + 1) - tieTerm))
    }

    static func normalP(u: Double, m: Double, n: Double, ties: [Int], alternative: Alternative) -> (Double, Double) {
        let sigma = variance(m: m, n: n, ties: ties).squareRoot()
        // Every value tied: no ordering at all, so no evidence either way.
        guard sigma > 0 else { return (0, 1) }
        let d = u - m * n / 2
        let correction: Double
        switch alternative {
        case .twoSided: correction = d > 0 ? 0.5 : d < 0 ? -0.5 : 0
        case .greater: correction = 0.5
        case .less: correction = -0.5
        }
        let z = (d - correction) / sigma
        switch alternative {
        case .twoSided: return (z, min(1, 2 * min(Normal.cdf(z), Normal.cdf(-z))))
        case .greater: return (z, Normal.cdf(-z))
        case .less: return (z, Normal.cdf(z))
        }
    }
}
