import AviaryAPI
import KubeAPI

/// Several compared metrics as one score, 0–100, and the measurement's
/// phase from it as Argo maps Kayenta's: ≥ pass Successful, ≥ marginal
/// Inconclusive, else Failed.
///
/// The score is the weighted share of the metrics with data that Pass. A
/// `critical` metric that is High or Low makes it 0 whatever the others
/// say. Too little data is never a silent pass: with a NoData metric the
/// phase is at most Inconclusive, and with no data at all there is no score.
public struct CanaryScore: Sendable, Equatable {
    public struct Thresholds: Sendable, Equatable {
        public var pass: Double
        public var marginal: Double
        public init(pass: Double = 95, marginal: Double = 75) {
            self.pass = pass
            self.marginal = marginal
        }
    }

    public struct Entry: Sendable, Equatable {
        public var name: String
        public var critical: Bool
        public var weight: Double
        public var comparison: MetricComparison
        public init(name: String, critical: Bool = false, weight: Double = 1, comparison: MetricComparison) {
            self.name = name
            self.critical = critical
            self.weight = weight
            self.comparison = comparison
        }
    }

    /// nil when no metric had data.
    public var score: Double?
    public var phase: AnalysisPhase
    /// Why, in a sentence: the score against the thresholds and the metrics that did not pass.
    public var message: String

    public init(_ entries: [Entry], thresholds t: Thresholds) {
        let judged = entries.filter { $0.comparison.classification != .noData }
        let missing = entries.filter { $0.comparison.classification == .noData }
        let failing = judged.filter { $0.comparison.classification != .pass }
        let criticalFailure = failing.first { $0.critical }
        let total = judged.reduce(0.0) { $0 + max($1.weight, 0) }
        let passed = judged.filter { $0.comparison.classification == .pass }.reduce(0.0) { $0 + max($1.weight, 0) }
        if criticalFailure != nil {
            score = 0
        } else if total > 0 {
            score = (passed / total * 1000).rounded() / 10
        } else {
            score = nil
        }
        let why = (failing.map { e in "\(e.name) \(e.comparison.classification.rawValue)\(e.critical ? " (critical)" : "")\(Self.detail(e.comparison))" }
            + missing.map { "\($0.name) NoData: \($0.comparison.reason ?? "too little data")" }).joined(separator: "; ")
        let thresholds = "pass \(Self.number(t.pass)), marginal \(Self.number(t.marginal))"
        guard let score else {
            phase = .Inconclusive
            message = "no score: no metric had enough data (\(why)); check that the query selects each side's pods by {{hash}} and that they serve traffic"
            return
        }
        let scored = "score \(Self.number(score)) (\(thresholds))"
        if score < t.marginal {
            phase = .Failed
        } else if score < t.pass || !missing.isEmpty {
            phase = .Inconclusive
        } else {
            phase = .Successful
        }
        switch phase {
        case .Successful: message = why.isEmpty ? scored : "\(scored): \(why)"
        case .Inconclusive where score >= t.pass: message = "\(scored), but too little data to pass: \(why)"
        default: message = why.isEmpty ? scored : "\(scored): \(why)"
        }
    }

    /// ": canary 0.26 vs baseline 0.2, +30 %, p=1.2e-09".
    static func detail(_ c: MetricComparison) -> String {
        guard let canary = c.canary.median, let baseline = c.baseline.median else { return "" }
        var text = ": canary median \(number(canary)) vs baseline \(number(baseline))"
        if let effect = c.effect { text += ", \(MetricComparison.percent(effect))" }
        if let p = c.pValue { text += ", p=\(number(p))" }
        return text
    }

    /// Four significant digits, as values are shown elsewhere.
    static func number(_ v: Double) -> String { ValueText.format(.number(v)) }
}
