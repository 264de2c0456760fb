import KubeAPI

/// `provider.compare`: statistical canary judgement, built in (Argo and
/// Flagger call Kayenta for it). The same Prometheus query runs for the
/// canary's and the baseline's pods (`{{hash}}` in it becomes each side's
/// pod-template hash); each metric's samples are compared with a
/// Mann-Whitney U test and the metrics combine into a score 0–100 that
/// decides the measurement, as Argo's Kayenta provider's score does.
public struct CompareMetric: Codable, Sendable, Hashable {
    /// Where and how to ask: Prometheus' connection fields (the queries are per metric).
    public var prometheus: ComparePrometheus?
    /// The canary's pod-template hash (Kayenta's experiment scope), e.g. `{{args.canary-hash}}`.
    public var canary: String?
    /// The hash it is compared with (Kayenta's control scope): the stable
    /// ReplicaSet's, or a baseline started for the purpose.
    public var baseline: String?
    /// Confidence of the test (default 0.98, Kayenta's).
    public var confidence: Double?
    /// Fewer samples on a side is NoData (default 5).
    public var minSamples: Int?
    /// Score thresholds (defaults 95 and 75).
    public var thresholds: CompareThresholds?
    public var metrics: [CompareQuery]

    public init(prometheus: ComparePrometheus? = nil, canary: String? = nil, baseline: String? = nil, metrics: [CompareQuery]) {
        self.prometheus = prometheus
        self.canary = canary
        self.baseline = baseline
        self.metrics = metrics
    }
}

/// Argo's Kayenta `thresholds`: ≥ pass Successful, ≥ marginal Inconclusive, else Failed.
public struct CompareThresholds: Codable, Sendable, Hashable {
    public var pass: Double?
    public var marginal: Double?

    public init(pass: Double? = nil, marginal: Double? = nil) {
        self.pass = pass
        self.marginal = marginal
    }
}

/// One compared metric, with Kayenta's names.
public struct CompareQuery: Codable, Sendable, Hashable {
    public var name: String
    /// PromQL with `{{hash}}` where each side's pod-template hash goes.
    public var query: String
    /// `increase` (default: a higher canary is bad), `decrease` or `either`.
    public var direction: String?
    /// Widens the shift's confidence interval by this share of the shift (default 0.25).
    public var tolerance: Double?
    /// The effect-size floor: how far canary/baseline must be from 1 to count.
    public var effectSize: CompareEffectSize?
    /// A High or Low here makes the score 0.
    public var critical: Bool?
    /// Its share of the score (default 1).
    public var weight: Double?

    public init(name: String, query: String, direction: String? = nil) {
        self.name = name
        self.query = query
        self.direction = direction
    }
}

public struct CompareEffectSize: Codable, Sendable, Hashable {
    /// canary/baseline at or above which an increase counts, e.g. 1.1 (default 1: any).
    public var allowedIncrease: Double?
    /// canary/baseline at or below which a decrease counts, e.g. 0.9 (default 1: any).
    public var allowedDecrease: Double?

    public init(allowedIncrease: Double? = nil, allowedDecrease: Double? = nil) {
        self.allowedIncrease = allowedIncrease
        self.allowedDecrease = allowedDecrease
    }
}

/// `provider.prometheus` without the query: address, timeout, TLS, headers,
/// authentication, and `rangeQuery` (samples per step over a window;
/// without it, one sample per series of an instant query, e.g. per pod).
public struct ComparePrometheus: Codable, Sendable, Hashable {
    public var address: String?
    public var timeout: Int?
    public var insecure: Bool?
    public var headers: [HeaderPair]?
    public var authentication: PrometheusAuthentication?
    public var rangeQuery: PrometheusRangeQuery?

    public init(address: String? = nil, rangeQuery: PrometheusRangeQuery? = nil) {
        self.address = address
        self.rangeQuery = rangeQuery
    }

    /// The provider.prometheus this side's query runs as.
    public func metric(query: String) -> PrometheusMetric {
        var m = PrometheusMetric(address: address, query: query)
        m.timeout = timeout
        m.insecure = insecure
        m.headers = headers
        m.authentication = authentication
        m.rangeQuery = rangeQuery
        return m
    }
}
