/// `prometheus.rangeQuery`: the window and resolution of a range query.
/// `start` and `end` are `now()`, optionally minus or plus `duration("5m")`;
/// `step` is a duration (`30s`, `1m`).
public struct PrometheusRangeQuery: Codable, Sendable, Hashable {
    public var start: String?
    public var end: String?
    public var step: String?

    public init(start: String? = nil, end: String? = nil, step: String? = nil) {
        self.start = start
        self.end = end
        self.step = step
    }
}
