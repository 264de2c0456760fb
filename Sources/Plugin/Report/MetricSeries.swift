import Foundation
import KubeAPI

/// One analysis metric's values over an update's window, as Prometheus'
/// range query returned them (the first series when the query gives several).
public struct MetricSeries: Codable, Sendable, Hashable {
    public struct Point: Codable, Sendable, Hashable {
        /// Seconds since the epoch.
        public var time: Int64
        /// nil for NaN and ±Inf, which JSON cannot say.
        public var value: Double?

        public init(time: Int64, value: Double?) {
            self.time = time
            self.value = value.flatMap { $0.isFinite ? $0 : nil }
        }
    }

    public var metric: String
    public var query: String
    /// Seconds between points.
    public var step: Int
    public var points: [Point]
    /// How many series the query returned (only the first is kept).
    public var seriesCount: Int

    /// At most this many points are kept (a report is read, not stored).
    public static let maxPoints = 500
    /// At most this many series in one report.
    public static let maxSeries = 20

    public init(metric: String, query: String, step: Int, points: [Point], seriesCount: Int = 1) {
        self.metric = ReportText.clip(metric, 200)
        // A query is often written over several lines: one line here.
        self.query = ReportText.clip(query.split(whereSeparator: { $0.isWhitespace }).joined(separator: " "), 2000)
        self.step = max(0, step)
        self.points = Array(points.lazy.filter { ReportTime.sane(seconds: $0.time) }.prefix(Self.maxPoints))
        self.seriesCount = max(0, seriesCount)
    }

    public var finiteValues: [Double] { points.compactMap(\.value) }
}

/// Prometheus' `/api/v1/query_range`: which window and step to ask for, and
/// what its answer says. Pure, so it is tested on samples.
public enum RangeQuery {
    /// The update's window with a step giving about `points` points (at least 1 s).
    public static func window(start: Int64, end: Int64, points: Int = 60) -> (start: Int64, end: Int64, step: Int) {
        let s = min(start, end), e = max(start, end)
        let (span, overflow) = e.subtractingReportingOverflow(s)
        let width = overflow ? Int64.max : span
        let step = max(1, width / Int64(max(1, points)) + (width % Int64(max(1, points)) == 0 ? 0 : 1))
        return (s, e, Int(clamping: step))
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    /// The matrix of a range query's answer: the first series' points, and how many series there were.
    public static func parse(_ body: Data) throws -> (points: [MetricSeries.Point], seriesCount: Int) {
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: body) else { throw Failure("the answer is not JSON") }
        guard json["status"] == "success", let data = json["data"] else {
            throw Failure("\(json["errorType"]?.stringValue ?? "error"): \(ReportText.clip(json["error"]?.stringValue ?? "unknown error", 300))")
        }
        guard data["resultType"]?.stringValue == "matrix", case .array(let series)? = data["result"] else {
            throw Failure("expected a matrix, got \(ReportText.clip(data["resultType"]?.stringValue ?? "nothing", 40))")
        }
        guard case .array(let values)? = series.first?["values"] else { return ([], series.count) }
        var points: [MetricSeries.Point] = []
        for sample in values.prefix(MetricSeries.maxPoints) {
            guard case .array(let pair) = sample, pair.count == 2, case .number(let t) = pair[0], t.isFinite,
                  t > -1e15, t < 1e15, let text = pair[1].stringValue else { continue }
            let value: Double? = switch text {
            case "NaN", "+Inf", "Inf", "-Inf": nil
            default: Double(text)
            }
            points.append(MetricSeries.Point(time: Int64(t.rounded(.down)), value: value))
        }
        return (points, series.count)
    }
}
