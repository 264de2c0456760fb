import AviaryAPI
import KubeAPI

/// A metric's settings, read once with their defaults and checked: what the
/// schedule and the judgement need, with errors that name the field.
public struct MetricPlan: Sendable {
    public var name: String
    /// Seconds between measurements; nil when the metric measures once (or back to back).
    public var interval: Int64?
    public var initialDelay: Int64
    /// nil: until the run is terminated.
    public var count: Int?
    public var failureLimit: Int
    public var inconclusiveLimit: Int
    public var consecutiveErrorLimit: Int
    /// 0: off; otherwise the metric is Successful after this many successes in a row.
    public var consecutiveSuccessLimit: Int
    public var success: Expression?
    public var failure: Expression?
    public var successText: String?
    public var failureText: String?

    /// Reads a metric; a bad condition or number is an error naming the metric, the field and the column.
    public init(_ metric: Metric) throws {
        name = metric.name
        func seconds(_ text: String?, _ field: String) throws -> Int64? {
            guard let text else { return nil }
            do { return Int64(try DurationText.wholeSeconds(text)) } catch {
                throw MetricSpecError(metric: metric.name, "\(field): \(error)")
            }
        }
        func int(_ v: IntOrString?, _ field: String) throws -> Int? {
            switch v {
            case nil: return nil
            case .int(let i)?: return try bounded(i, String(i), field)
            case .string(let s)?:
                guard let i = Int(s) else { throw MetricSpecError(metric: metric.name, "\(field): \"\(s)\" is not a number") }
                return try bounded(i, s, field)
            }
        }
        /// -1 (no limit, for the limits) up to `Limits.maxMeasurementCount`.
        func bounded(_ i: Int, _ text: String, _ field: String) throws -> Int {
            let lowest = field == "count" || field == "consecutiveSuccessLimit" ? 0 : -1
            guard (lowest...Limits.maxMeasurementCount).contains(i) else {
                throw MetricSpecError(metric: metric.name, "\(field): \(text) is outside \(lowest)–\(Limits.maxMeasurementCount)")
            }
            return i
        }
        func condition(_ text: String?, _ field: String) throws -> Expression? {
            guard let text, !text.isEmpty else { return nil }
            do { return try Expression.parse(text) } catch let e as ExpressionError {
                throw MetricSpecError(metric: metric.name, "\(field): \(e)")
            }
        }
        interval = try seconds(metric.interval, "interval").map { max($0, 1) }
        initialDelay = try seconds(metric.initialDelay, "initialDelay") ?? 0
        let written = try int(metric.count, "count")
        count = written ?? (interval == nil ? 1 : nil)
        failureLimit = try int(metric.failureLimit, "failureLimit") ?? 0
        inconclusiveLimit = try int(metric.inconclusiveLimit, "inconclusiveLimit") ?? 0
        consecutiveErrorLimit = try int(metric.consecutiveErrorLimit, "consecutiveErrorLimit") ?? Metric.defaultConsecutiveErrorLimit
        consecutiveSuccessLimit = try int(metric.consecutiveSuccessLimit, "consecutiveSuccessLimit") ?? 0
        success = try condition(metric.successCondition, "successCondition")
        failure = try condition(metric.failureCondition, "failureCondition")
        successText = metric.successCondition
        failureText = metric.failureCondition
        try checkLimits()
        do { try RangeWindow.check(metric.provider.prometheus?.rangeQuery) } catch {
            throw MetricSpecError(metric: metric.name, "provider.prometheus.\(error)")
        }
        switch metric.onFailure {
        case .unreadable(let why)?: throw MetricSpecError(metric: metric.name, "onFailure: \(why)")
        case .notify(_, let after)?: _ = try seconds(after, "onFailure.thenAbortAfter")
        default: break
        }
        try ComparePlan.check(metric)
        if metric.provider.kind == "none" {
            throw MetricSpecError(metric: metric.name, "provider: one of prometheus, web, job or pods is required")
        }
    }
}

/// A metric that cannot be run as written.
public struct MetricSpecError: Error, Equatable, Sendable, CustomStringConvertible {
    public var metric: String
    public var message: String
    public init(metric: String, _ message: String) {
        self.metric = metric
        self.message = message
    }
    public var description: String { "metric \"\(metric)\": \(message)" }
}
