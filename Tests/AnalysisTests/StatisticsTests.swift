import AviaryAPI
import Foundation
import Testing
@testable import AnalysisCore

/// Mann-Whitney U, Hodges-Lehmann and the canary score against published
/// reference values. Sources:
/// - Hollander & Wolfe (1973), Nonparametric Statistical Methods, p. 69f
///   (permeability constants of the human chorioamnion), the example in R's
///   `?wilcox.test`: `wilcox.test(x, y, alternative = "g")` gives W = 35,
///   p-value = 0.1272; `wilcox.test(x, y, conf.int = TRUE)` gives the
///   difference in location 0.305 with the 95 % interval −0.15 … 0.76.
/// - Critical values of U for a two-sided test at α = 0.05 from the
///   standard tables (e.g. Siegel & Castellan, Nonparametric Statistics,
///   Table J): 2 for 5 × 5, 13 for 8 × 8, 23 for 10 × 10, 127 for 20 × 20.
/// - ClickHouse's test of `mannWhitneyUTest` (tests/queries/0_stateless/
///   01560_mann_whitney.sql), whose expected values are scipy's
///   `mannwhitneyu` (normal approximation, tie and continuity correction):
///   U = 223, two-sided p = 0.5426959774289482 for 20 + 20 values with ties.
/// - scipy 1.17 `mannwhitneyu(..., method="asymptotic")` for the other
///   alternatives and the heavily tied case, and `norm.ppf` for quantiles.
/// The exact distribution is also checked against brute-force enumeration.
@Suite struct MannWhitneyTests {
    static let x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46]
    static let y = [1.15, 0.88, 0.90, 0.74, 1.21]

    @Test func hollanderWolfeExactPValues() {
        let greater = MannWhitney.test(Self.x, Self.y, alternative: .greater)
        #expect(greater.u == 35)
        #expect(greater.exact)
        #expect(abs(greater.pValue - 0.1272061272061272) < 1e-12, "R: p-value = 0.1272; \(greater.pValue)")
        let two = MannWhitney.test(Self.x, Self.y, alternative: .twoSided)
        #expect(abs(two.pValue - 0.2544122544122544) < 1e-12)
        let less = MannWhitney.test(Self.x, Self.y, alternative: .less)
        #expect(abs(less.pValue - 0.8967698967698967) < 1e-12)
    }

    @Test func hollanderWolfeNormalApproximation() {
        // R: wilcox.test(x, y, alternative = "g", exact = FALSE) → p-value = 0.1223 (scipy: 0.12231180256349167).
        let (_, greater) = MannWhitney.normalP(u: 35, m: 10, n: 5, ties: [], alternative: .greater)
        #expect(abs(greater - 0.12231180256349167) < 1e-12)
        let (_, two) = MannWhitney.normalP(u: 35, m: 10, n: 5, ties: [], alternative: .twoSided)
        #expect(abs(two - 0.24462360512698333) < 1e-12)
        let (_, less) = MannWhitney.normalP(u: 35, m: 10, n: 5, ties: [], alternative: .less)
        #expect(abs(less - 0.9007753482039937) < 1e-12)
    }

    @Test func criticalValuesFromTheTables() throws {
        for (m, n, critical) in [(5, 5, 2), (8, 8, 13), (10, 10, 23), (20, 20, 127)] {
            let exact = try #require(ExactU(m: m, n: n))
            #expect(exact.cdf(critical) <= 0.025, "\(m)×\(n): P(U ≤ \(critical)) = \(exact.cdf(critical))")
            #expect(exact.cdf(critical + 1) > 0.025, "\(m)×\(n): \(critical) is the largest critical value")
            #expect(exact.quantile(0.025) == critical + 1)
        }
    }

    @Test func farTailsKeepTheirPrecision() throws {
        // Perfect separation of 31 against 31: P(U ≥ 961) = 1 / C(62, 31) = 1 / 465428353255261088 ≈ 2.149e-18.
        let x = (0..<31).map { 1 + Double($0) / 100 }, y = (0..<31).map { Double($0) / 100 }
        let p = MannWhitney.test(x, y, alternative: .greater).pValue
        #expect(abs(p * Double(465_428_353_255_261_088 as Int64) - 1) < 1e-9, "\(p)")
    }

    @Test func exactDistributionMatchesEnumeration() throws {
        for (m, n) in [(1, 1), (1, 4), (3, 3), (4, 6), (7, 5), (2, 9)] {
            // Every way to place x's m values among the m + n ranks, U = rank sum − m(m+1)/2.
            var counts = [Int](repeating: 0, count: m * n + 1)
            var total = 0
            func choose(_ start: Int, _ left: Int, _ sum: Int) {
                if left == 0 {
                    counts[sum - m * (m + 1) / 2] += 1
                    total += 1
                    return
                }
                guard start <= m + n else { return }
                for r in start...(m + n) { choose(r + 1, left - 1, sum + r) }
            }
            choose(1, m, 0)
            let exact = try #require(ExactU(m: m, n: n))
            var running = 0
            for u in 0...(m * n) {
                running += counts[u]
                #expect(abs(exact.cdf(u) - Double(running) / Double(total)) < 1e-12, "\(m)×\(n) at U = \(u)")
            }
        }
    }

    @Test func tiesUseTheCorrectedNormalApproximation() {
        let left: [Double] = [310, 195, 530, 155, 530, 245, 385, 450, 465, 545, 170, 180, 125, 180, 230, 75, 430, 480, 495, 295]
        let right: [Double] = [116, 171, 176, 421, 111, 326, 481, 111, 346, 441, 261, 411, 206, 521, 456, 446, 296, 51, 426, 261]
        let two = MannWhitney.test(left, right)
        #expect(two.u == 223)
        #expect(!two.exact)
        #expect(abs(two.pValue - 0.5426959774289482) < 1e-12, "\(two.pValue)")
        #expect(abs(MannWhitney.test(left, right, alternative: .greater).pValue - 0.2713479887144741) < 1e-12)
        #expect(abs(MannWhitney.test(left, right, alternative: .less).pValue - 0.737545429642209) < 1e-12)

        let a: [Double] = [1, 1, 1, 2, 2, 3, 3, 3, 3, 4]
        let b: [Double] = [2, 2, 3, 4, 4, 4, 5, 5, 5, 5, 6]
        let tied = MannWhitney.test(a, b)
        #expect(tied.u == 16.5)
        #expect(abs(tied.pValue - 0.006448378209080727) < 1e-12, "\(tied.pValue)")
        #expect(abs(MannWhitney.test(a, b, alternative: .less).pValue - 0.0032241891045403635) < 1e-12)
        #expect(abs(MannWhitney.test(a, b, alternative: .greater).pValue - 0.9974110368687327) < 1e-12)
    }

    @Test func degenerateSamplesShowNothing() {
        #expect(MannWhitney.test([], [1, 2]).pValue == 1)
        #expect(MannWhitney.test([3, 3, 3], [3, 3]).pValue == 1, "all tied: no ordering at all")
        let big = MannWhitney.test(Array(repeating: 1, count: 60), Array(repeating: 2, count: 70), alternative: .less)
        #expect(big.pValue < 1e-20 && big.pValue > 0)
    }

    @Test func normalQuantiles() {
        #expect(abs(Normal.quantile(0.975) - 1.959963984540054) < 1e-12)
        #expect(abs(Normal.quantile(0.99) - 2.3263478740408408) < 1e-12)
        #expect(abs(Normal.quantile(0.01) + 2.3263478740408408) < 1e-12)
        #expect(Normal.quantile(0) == -.infinity && Normal.quantile(1) == .infinity && Normal.quantile(.nan).isNaN)
    }
}

@Suite struct HodgesLehmannTests {
    @Test func hollanderWolfeInterval() throws {
        let hl = try #require(HodgesLehmann(MannWhitneyTests.x, MannWhitneyTests.y, confidence: 0.95))
        #expect(abs(hl.estimate - 0.305) < 1e-12)
        #expect(abs(hl.lower - -0.15) < 1e-12 && abs(hl.upper - 0.76) < 1e-12, "R: −0.15 … 0.76; \(hl.lower) … \(hl.upper)")
        // Achieved coverage 1 − 2 P(U ≤ 8) = 0.96004 (by enumeration of the 3003 orderings).
        #expect(abs(hl.achievedConfidence - 0.9600399600399601) < 1e-12)
        // At Kayenta's 0.98: the 7th smallest and largest of the 50 differences (by enumeration).
        let wide = try #require(HodgesLehmann(MannWhitneyTests.x, MannWhitneyTests.y, confidence: 0.98))
        #expect(abs(wide.lower - -0.17) < 1e-12 && abs(wide.upper - 0.90) < 1e-12)
    }

    @Test func shiftOfAShiftedSampleIsTheShift() throws {
        let base = (0..<80).map { Double($0 % 17) * 0.01 + 0.2 }
        let hl = try #require(HodgesLehmann(base.map { $0 + 0.06 }, base, confidence: 0.98))
        #expect(abs(hl.estimate - 0.06) < 1e-9)
        #expect(hl.lower <= 0.06 && hl.upper >= 0.06 && hl.lower > 0)
        #expect(HodgesLehmann([], base, confidence: 0.98) == nil)
        #expect(HodgesLehmann(base, base, confidence: 1) == nil)
    }
}

@Suite struct CanaryJudgementTests {
    /// A deterministic "noisy" series around `center`: ±10 % (or `noise`) in a fixed pattern.
    static func series(_ center: Double, count: Int = 24, phase: Int = 0, noise: Double = 0.1) -> [Double] {
        (0..<count).map { center * (1 + noise * sin(Double($0 * 7 + phase))) }
    }

    func settings(_ direction: MetricComparison.Direction = .increase, allowedIncrease: Double = 1.1) -> MetricComparison.Settings {
        var s = MetricComparison.Settings()
        s.direction = direction
        s.allowedIncrease = allowedIncrease
        return s
    }

    @Test func thirtyPercentSlowerIsHigh() {
        let c = MetricComparison.compare(canary: Self.series(0.26), baseline: Self.series(0.2, phase: 3), settings: settings())
        #expect(c.classification == .high, "\(c)")
        #expect(c.canary.count == 24 && c.baseline.count == 24)
        #expect(abs((c.effect ?? 0) - 0.3) < 0.05)
        #expect((c.pValue ?? 1) < 0.001)
    }

    @Test func noiseIsAPass() {
        let c = MetricComparison.compare(canary: Self.series(0.2, phase: 1), baseline: Self.series(0.2, phase: 4), settings: settings())
        #expect(c.classification == .pass, "\(c)")
    }

    @Test func aRealButSmallEffectIsUnderTheFloor() {
        // 3 % slower with ±1 % noise: significant, but under allowedIncrease 1.1.
        let c = MetricComparison.compare(canary: Self.series(0.206, noise: 0.01), baseline: Self.series(0.2, phase: 2, noise: 0.01), settings: settings())
        #expect(c.classification == .pass)
        #expect(c.reason?.contains("under allowedIncrease 1.1") == true, "\(c.reason ?? "")")
        let any = MetricComparison.compare(canary: Self.series(0.206, noise: 0.01), baseline: Self.series(0.2, phase: 2, noise: 0.01),
                                           settings: settings(allowedIncrease: 1))
        #expect(any.classification == .high)
    }

    @Test func directionDecidesWhichChangeIsBad() {
        let faster = (canary: Self.series(0.1), baseline: Self.series(0.2))
        #expect(MetricComparison.compare(canary: faster.canary, baseline: faster.baseline, settings: settings(.increase)).classification == .pass)
        var down = settings(.decrease)
        down.allowedDecrease = 0.9
        #expect(MetricComparison.compare(canary: faster.canary, baseline: faster.baseline, settings: down).classification == .low)
        #expect(MetricComparison.compare(canary: faster.canary, baseline: faster.baseline, settings: settings(.either)).classification == .low)
    }

    @Test func tooLittleDataIsNoDataNeverAPass() {
        let few = MetricComparison.compare(canary: [0.9, 1, 1.1], baseline: [0.1, 0.2, 0.3], settings: settings())
        #expect(few.classification == .noData)
        var s = settings()
        s.minSamples = 3
        // 3 against 3 can at best reach p = 1/20, never below 1 − 0.98.
        let unreachable = MetricComparison.compare(canary: [0.9, 1, 1.1], baseline: [0.1, 0.2, 0.3], settings: s)
        #expect(unreachable.classification == .noData)
        #expect(unreachable.reason?.contains("smallest possible p-value is 0.05") == true, "\(unreachable.reason ?? "")")
    }

    @Test func zeroBaselineHasAnInfiniteEffect() {
        let c = MetricComparison.compare(canary: Array(repeating: 0.01, count: 10), baseline: Array(repeating: 0, count: 10), settings: settings())
        #expect(c.effect == .infinity)
        #expect(c.classification == .high)
    }

    func entry(_ name: String, _ cls: MetricComparison.Classification, critical: Bool = false, weight: Double = 1) -> CanaryScore.Entry {
        var c = MetricComparison.compare(canary: [], baseline: [], settings: settings())
        c.classification = cls
        return CanaryScore.Entry(name: name, critical: critical, weight: weight, comparison: c)
    }

    @Test func scoreMapsToPhasesAsArgoMapsKayenta() {
        let t = CanaryScore.Thresholds(pass: 90, marginal: 50)
        #expect(CanaryScore([entry("a", .pass), entry("b", .pass)], thresholds: t).phase == .Successful)
        let half = CanaryScore([entry("a", .pass), entry("b", .high)], thresholds: t)
        #expect(half.score == 50 && half.phase == .Inconclusive, "50 ≥ marginal 50")
        let low = CanaryScore([entry("a", .pass), entry("b", .high, weight: 3)], thresholds: t)
        #expect(low.score == 25 && low.phase == .Failed)
        #expect(low.message.hasPrefix("score 25 (pass 90, marginal 50): b High"), "\(low.message)")
    }

    @Test func aCriticalFailureFailsTheWholeScore() {
        let s = CanaryScore([entry("a", .pass), entry("b", .pass), entry("c", .high, critical: true)], thresholds: .init())
        #expect(s.score == 0 && s.phase == .Failed)
        #expect(s.message.contains("c High (critical)"))
    }

    @Test func missingDataIsAtMostInconclusive() {
        let s = CanaryScore([entry("a", .pass), entry("b", .noData)], thresholds: .init())
        #expect(s.score == 100 && s.phase == .Inconclusive, "never a silent pass")
        let none = CanaryScore([entry("a", .noData)], thresholds: .init())
        #expect(none.score == nil && none.phase == .Inconclusive)
        #expect(none.message.hasPrefix("no score"))
        // But evidence of a bad canary still fails it.
        #expect(CanaryScore([entry("a", .high), entry("b", .noData)], thresholds: .init()).phase == .Failed)
    }
}

@Suite struct StatisticsScaleTests {
    /// The largest samples a comparison accepts (1000 a side: a million
    /// pairs for the shift) are judged in seconds, not minutes, even unoptimised.
    @Test func theLargestSamplesAreJudgedInTime() {
        let clock = ContinuousClock()
        let baseline = (0..<ComparePlan.maxSamples).map { 0.2 + Double($0 % 97) / 1000 }
        let canary = baseline.map { $0 * 1.3 }
        var s = MetricComparison.Settings()
        s.direction = .increase
        let elapsed = clock.measure {
            let c = MetricComparison.compare(canary: canary, baseline: baseline, settings: s)
            #expect(c.classification == .high)
        }
        #expect(elapsed < .seconds(10), "\(elapsed)")
    }
}
