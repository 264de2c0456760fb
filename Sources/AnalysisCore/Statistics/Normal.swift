import Foundation

/// The standard normal distribution, for the large-sample approximations.
public enum Normal {
    /// Φ(z). Through `erfc`, so the upper tail keeps its precision (1 − Φ
    /// would round tiny p-values to 0).
    public static func cdf(_ z: Double) -> Double {
        guard !z.isNaN else { return .nan }
        return 0.5 * erfc(-z / 2.0.squareRoot())
    }

    /// Φ⁻¹(p) for 0 < p < 1, by bisection on `cdf`: slower than a rational
    /// approximation but plainly right, and it is called a few times per
    /// comparison. Outside (0, 1): ∓∞ (NaN for NaN).
    public static func quantile(_ p: Double) -> Double {
        guard !p.isNaN else { return .nan }
        if p <= 0 { return -.infinity }
        if p >= 1 { return .infinity }
        var low = -40.0, high = 40.0
        for _ in 0..<200 {
            let mid = (low + high) / 2
            if mid == low || mid == high { break }
            if cdf(mid) < p { low = mid } else { high = mid }
        }
        return (low + high) / 2
    }
}
