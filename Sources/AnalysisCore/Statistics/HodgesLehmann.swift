/// The Hodges-Lehmann estimate of the shift between two samples (the
/// median of every difference x − y) and the distribution-free confidence
/// interval around it that inverts the Mann-Whitney test, as R's
/// `wilcox.test(x, y, conf.int = TRUE)` gives it when the exact distribution
/// applies: with qu the smallest u where P(U ≤ u) ≥ α/2, the interval is
/// [D(qu), D(mn − qu + 1)] of the sorted differences D. With ties or large
/// samples qu comes from the tie-corrected normal approximation with
/// continuity correction (R solves for the interval numerically there; the
/// two agree to within one difference).
public struct HodgesLehmann: Sendable, Equatable {
    /// Median of x − y over all pairs.
    public var estimate: Double
    public var lower: Double
    public var upper: Double
    /// The coverage the order statistics actually give (≥ the asked level
    /// when exact; the approximation's when not).
    public var achievedConfidence: Double

    /// nil for an empty sample. `confidence` in (0, 1); the caller checks it.
    public init?(_ x: [Double], _ y: [Double], confidence: Double) {
        guard !x.isEmpty, !y.isEmpty, confidence > 0, confidence < 1 else { return nil }
        var diffs: [Double] = []
        diffs.reserveCapacity(x.count * y.count)
        for a in x { for b in y { diffs.append(a - b) } }
        diffs.sort()
        let count = diffs.count
        estimate = count % 2 == 1 ? diffs[count / 2] : diffs[count / 2 - 1] / 2 + diffs[count / 2] / 2
        let alpha = 1 - confidence
        let ties = MannWhitney.ranks(x + y).ties
        var qu: Int
        if ties.isEmpty, let exact = ExactU(m: x.count, n: y.count) {
            qu = exact.quantile(alpha / 2)
            achievedConfidence = 1 - 2 * exact.cdf(max(qu, 1) - 1)
        } else {
            let sigma = MannWhitney.variance(m: Double(x.count), n: Double(y.count), ties: ties).squareRoot()
            let z = Normal.quantile(1 - alpha / 2)
            let point = (Double(count) / 2 - 0.5 - sigma * z).rounded(.up)
            // The point lies in [−∞, mn/2]: clamp before converting.
            qu = point <= 1 ? 1 : Int(min(point, Double(count)))
            achievedConfidence = sigma > 0 ? 1 - 2 * Normal.cdf((Double(qu) - 1 + 0.5 - Double(count) / 2) / sigma) : 0
        }
        qu = min(max(qu, 1), count)
        lower = diffs[qu - 1]
        upper = diffs[max(count - qu, 0)]
        if lower > upper { swap(&lower, &upper) }
    }
}
