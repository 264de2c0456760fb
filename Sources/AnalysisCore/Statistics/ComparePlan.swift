import AviaryAPI

/// `provider.compare` read once and checked: each field's range, with an
/// error naming the field, so a template is refused when a Rollout names it
/// rather than failing at the first measurement.
public struct ComparePlan: Sendable, Equatable {
    public struct Query: Sendable, Equatable {
        public var name: String
        public var query: String
        public var critical: Bool
        public var weight: Double
        public var settings: MetricComparison.Settings
    }

    public var queries: [Query]
    public var thresholds: CanaryScore.Thresholds

    /// A side's samples above this are refused: the shift's estimate pairs
    /// every canary sample with every baseline one (a million pairs here).
    public static let maxSamples = 1000
    /// Metrics one comparison may hold; each costs two queries per measurement.
    public static let maxQueries = 20
    /// `{{hash}}` in a query becomes each side's pod-template hash.
    public static let hashPlaceholder = "{{hash}}"

    public init(_ c: CompareMetric, metric: String) throws {
        func fail(_ text: String) -> MetricSpecError { MetricSpecError(metric: metric, "provider.compare.\(text)") }
        func number(_ v: Double?, _ field: String, _ range: ClosedRange<Double>, default fallback: Double, open: Bool = false) throws -> Double {
            guard let v else { return fallback }
            guard v.isFinite, range.contains(v), !(open && (v == range.lowerBound || v == range.upperBound)) else {
                let bounds = open ? "between \(range.lowerBound) and \(range.upperBound), exclusive" : "\(range.lowerBound)–\(range.upperBound)"
                throw fail("\(field): \(v) is outside \(bounds)")
            }
            return v
        }
        guard c.prometheus != nil else {
            throw fail("prometheus: required: where the queries go, e.g. prometheus: {address: \"{{args.prometheus}}\"}")
        }
        for (field, value) in [("canary", c.canary), ("baseline", c.baseline)] where (value ?? "").isEmpty {
            throw fail("\(field): required: the \(field) pods' rollouts-pod-template-hash, e.g. \"{{args.\(field == "canary" ? "canary" : "stable")-hash}}\"")
        }
        do { try RangeWindow.check(c.prometheus?.rangeQuery) } catch { throw fail("prometheus.\(error)") }
        let confidence = try number(c.confidence, "confidence", 0.5...1, default: 0.98, open: true)
        let minSamples = try c.minSamples.map { n in
            guard (3...Self.maxSamples).contains(n) else { throw fail("minSamples: \(n) is outside 3–\(Self.maxSamples)") }
            return n
        } ?? MetricComparison.Settings().minSamples
        let pass = try number(c.thresholds?.pass, "thresholds.pass", 0...100, default: 95)
        let marginal = try number(c.thresholds?.marginal, "thresholds.marginal", 0...100, default: 75)
        guard marginal <= pass else {
            throw fail("thresholds: marginal \(marginal) is above pass \(pass); marginal is the lower bar (e.g. pass 95, marginal 75)")
        }
        thresholds = CanaryScore.Thresholds(pass: pass, marginal: marginal)
        guard !c.metrics.isEmpty else { throw fail("metrics: at least one metric to compare is required") }
        guard c.metrics.count <= Self.maxQueries else { throw fail("metrics: \(c.metrics.count) metrics, more than \(Self.maxQueries)") }
        var seen: Set<String> = []
        queries = try c.metrics.enumerated().map { i, q in
            let at = "metrics[\(i)]"
            guard !q.name.isEmpty else { throw fail("\(at).name: required") }
            guard seen.insert(q.name).inserted else { throw fail("\(at).name: \"\(q.name)\" is named twice") }
            guard q.query.contains(Self.hashPlaceholder) else {
                throw fail("\(at).query: has no \(Self.hashPlaceholder); select each side's pods with rollouts_pod_template_hash=\"\(Self.hashPlaceholder)\"")
            }
            var s = MetricComparison.Settings()
            s.confidence = confidence
            s.minSamples = minSamples
            if let d = q.direction {
                guard let direction = MetricComparison.Direction(rawValue: d) else {
                    throw fail("\(at).direction: \"\(d.prefix(100))\" is not increase, decrease or either")
                }
                s.direction = direction
            } else {
                s.direction = .increase
            }
            s.tolerance = try number(q.tolerance, "\(at).tolerance", 0...10, default: s.tolerance)
            s.allowedIncrease = try number(q.effectSize?.allowedIncrease, "\(at).effectSize.allowedIncrease", 1...1000, default: 1)
            s.allowedDecrease = try number(q.effectSize?.allowedDecrease, "\(at).effectSize.allowedDecrease", 0...1, default: 1)
            let weight = try number(q.weight, "\(at).weight", 0...1000, default: 1, open: false)
            guard weight > 0 else { throw fail("\(at).weight: 0; a metric that should not count can be left out") }
            return Query(name: q.name, query: q.query, critical: q.critical ?? false, weight: weight, settings: s)
        }
    }

    /// With compare the score decides, so conditions would be ignored: refused instead.
    public static func check(_ metric: Metric) throws {
        guard let c = metric.provider.compare else { return }
        for (field, text) in [("successCondition", metric.successCondition), ("failureCondition", metric.failureCondition)] where !(text ?? "").isEmpty {
            throw MetricSpecError(metric: metric.name, "\(field): not used with provider.compare, where the score decides; "
                                  + "remove it and set provider.compare.thresholds (pass, marginal) instead")
        }
        _ = try ComparePlan(c, metric: metric.name)
    }
}
