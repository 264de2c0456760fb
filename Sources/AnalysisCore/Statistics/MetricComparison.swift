/// One metric of a canary judged against its baseline, in Kayenta's terms:
/// Pass, High (the canary is higher, in a direction that matters), Low, or
/// NoData (too little data to tell — never a silent pass).
///
/// High needs all three: the Mann-Whitney p-value for the direction below
/// 1 − confidence (significant); the Hodges-Lehmann interval of the shift,
/// widened by `tolerance` × |shift| each side, still clear of zero (so a
/// barely significant shift is not enough); and the effect past the floor,
/// canary/baseline = 1 + shift/|baseline median| ≥ `allowedIncrease`
/// (so a real but tiny difference is noise to the user). Low mirrors it
/// with `allowedDecrease`.
public struct MetricComparison: Sendable, Equatable {
    /// Which change of the canary is bad.
    public enum Direction: String, Sendable, CaseIterable {
        case increase, decrease, either
    }

    public enum Classification: String, Sendable {
        case pass = "Pass", high = "High", low = "Low", noData = "NoData"
    }

    public struct Settings: Sendable, Equatable {
        public var direction: Direction = .either
        /// Kayenta's default.
        public var confidence = 0.98
        /// Kayenta's default.
        public var tolerance = 0.25
        /// canary/baseline at or above which an increase counts (1: any).
        public var allowedIncrease = 1.0
        /// canary/baseline at or below which a decrease counts (1: any).
        public var allowedDecrease = 1.0
        /// Fewer samples on either side is NoData.
        public var minSamples = 5
        public init() {}
    }

    public struct Side: Sendable, Equatable {
        public var count: Int
        public var median: Double?
    }

    public var classification: Classification
    public var canary: Side
    public var baseline: Side
    /// Hodges-Lehmann shift, canary − baseline, and its interval at the confidence.
    public var shift: Double?
    public var lower: Double?
    public var upper: Double?
    /// shift / |baseline median|: 0.3 is 30 % higher. ±∞ when the baseline median is 0 and the shift is not.
    public var effect: Double?
    /// The direction's p-value (one-sided for increase or decrease, two-sided for either).
    public var pValue: Double?
    /// Why NoData, or which guard kept a significant shift a Pass.
    public var reason: String?

    public static func compare(canary: [Double], baseline: [Double], settings s: Settings) -> MetricComparison {
        var out = MetricComparison(classification: .noData, canary: Side(count: canary.count, median: median(canary)),
                                   baseline: Side(count: baseline.count, median: median(baseline)))
        let needed = max(s.minSamples, 1)
        guard canary.count >= needed, baseline.count >= needed else {
            out.reason = "\(canary.count) canary and \(baseline.count) baseline samples, fewer than minSamples \(needed) on a side"
            return out
        }
        let alternative: MannWhitney.Alternative = s.direction == .increase ? .greater : s.direction == .decrease ? .less : .twoSided
        let alpha = 1 - s.confidence
        let best = bestPValue(m: canary.count, n: baseline.count, alternative)
        guard best < alpha else {
            out.reason = "with \(canary.count) canary and \(baseline.count) baseline samples no difference could reach confidence \(s.confidence)"
                + " (the smallest possible p-value is \(best)); measure over a longer window or a smaller step"
            return out
        }
        let test = MannWhitney.test(canary, baseline, alternative: alternative)
        out.pValue = test.pValue
        guard let hl = HodgesLehmann(canary, baseline, confidence: s.confidence) else { return out }
        out.shift = hl.estimate
        out.lower = hl.lower
        out.upper = hl.upper
        let base = abs(out.baseline.median ?? 0)
        let effect = base > 0 ? hl.estimate / base : hl.estimate == 0 ? 0 : hl.estimate > 0 ? Double.infinity : -Double.infinity
        out.effect = effect
        out.classification = .pass
        guard test.pValue < alpha else { return out }
        let slack = s.tolerance * abs(hl.estimate)
        let up = hl.lower - slack > 0, down = hl.upper + slack < 0
        if up, s.direction != .decrease {
            if 1 + effect >= s.allowedIncrease { out.classification = .high } else {
                out.reason = "increase of \(percent(effect)) is under allowedIncrease \(s.allowedIncrease)"
            }
        } else if down, s.direction != .increase {
            if 1 + effect <= s.allowedDecrease { out.classification = .low } else {
                out.reason = "decrease of \(percent(effect)) is under allowedDecrease \(s.allowedDecrease)"
            }
        } else if up || down {
            out.reason = nil
        } else {
            out.reason = "the shift's interval widened by tolerance \(s.tolerance) includes zero"
        }
        return out
    }

    /// The p-value of perfectly separated samples of these sizes: the best any data could do.
    static func bestPValue(m: Int, n: Int, _ alternative: MannWhitney.Alternative) -> Double {
        let u = Double(m) * Double(n)
        if let exact = ExactU(m: m, n: n) {
            switch alternative {
            case .greater, .twoSided: return MannWhitney.exactP(u: u, exact, alternative)
            case .less: return MannWhitney.exactP(u: 0, exact, alternative)
            }
        }
        let extreme = alternative == .less ? 0 : u
        return MannWhitney.normalP(u: extreme, m: Double(m), n: Double(n), ties: [], alternative: alternative).1
    }

    static func median(_ v: [Double]) -> Double? {
        guard !v.isEmpty else { return nil }
        let s = v.sorted()
        let mid = s.count / 2
        return s.count % 2 == 1 ? s[mid] : s[mid - 1] / 2 + s[mid] / 2
    }

    static func percent(_ effect: Double) -> String {
        guard effect.isFinite else { return effect > 0 ? "+∞ %" : "−∞ %" }
        let p = (effect * 1000).rounded() / 10
        return (p >= 0 ? "+" : "") + "\(p) %"
    }

    init(classification: Classification, canary: Side, baseline: Side) {
        self.classification = classification
        self.canary = canary
        self.baseline = baseline
    }
}
