import AviaryAPI

/// A Prometheus range query's window, from `rangeQuery {start, end, step}`
/// as Argo writes it: `start: "now() - duration('10m')"`, `end: "now()"`,
/// `step: 1m`. Only `now()`, optionally plus or minus one `duration(...)`, is
/// understood; anything else is an error naming the field, not a guess.
public struct RangeWindow: Sendable, Equatable {
    /// Seconds since the epoch.
    public var start: Int64
    public var end: Int64
    /// Seconds between points.
    public var step: Int64

    /// Prometheus refuses a range with more points than this (its own limit).
    public static let maxPoints: Int64 = 11_000

    public init(start: Int64, end: Int64, step: Int64) {
        self.start = start
        self.end = end
        self.step = step
    }

    /// The window at `now`. `end` defaults to `now()`; `start` and `step` are required.
    public static func resolve(_ q: PrometheusRangeQuery, now: Int64) throws -> RangeWindow {
        guard let startText = q.start, !startText.isEmpty else {
            throw RangeWindowError("rangeQuery.start is required, e.g. \"now() - duration('10m')\"")
        }
        guard let stepText = q.step, !stepText.isEmpty else {
            throw RangeWindowError("rangeQuery.step is required, e.g. 1m")
        }
        let start = try instant(startText, field: "start", now: now)
        let end = try instant(q.end ?? "now()", field: "end", now: now)
        let step: Int
        do { step = try DurationText.wholeSeconds(stepText) } catch {
            throw RangeWindowError("rangeQuery.step: \(error)")
        }
        guard step >= 1 else { throw RangeWindowError("rangeQuery.step: \"\(stepText)\" is less than 1s") }
        guard start < end else {
            throw RangeWindowError("rangeQuery: start (\(startText)) is not before end (\(q.end ?? "now()")); "
                                   + "write a start earlier than the end, e.g. start: \"now() - duration('10m')\"")
        }
        let points = (end - start) / Int64(step) + 1
        guard points <= maxPoints else {
            throw RangeWindowError("rangeQuery: \(points) points (window / step) is more than Prometheus' \(maxPoints); "
                                   + "raise the step or shorten the window")
        }
        return RangeWindow(start: start, end: end, step: Int64(step))
    }

    /// Checks what can be checked before any argument is substituted.
    public static func check(_ q: PrometheusRangeQuery?) throws {
        guard let q else { return }
        let written = [q.start, q.end, q.step].compactMap { $0 }
        guard !written.contains(where: { $0.contains("{{") }) else { return }
        _ = try resolve(q, now: 1_000_000_000)
    }

    /// `now()`, `now() - duration("5m")`, `now() + duration('30s')`, spaces anywhere.
    static func instant(_ text: String, field: String, now: Int64) throws -> Int64 {
        let bad = RangeWindowError("rangeQuery.\(field): \"\(text.prefix(200))\" is not understood; "
                                   + "write now() or now() - duration('10m')")
        var rest = Substring(text.filter { !$0.isWhitespace })
        guard rest.hasPrefix("now()") else { throw bad }
        rest = rest.dropFirst(5)
        if rest.isEmpty { return now }
        guard let sign = rest.first, sign == "-" || sign == "+" else { throw bad }
        rest = rest.dropFirst()
        guard rest.hasPrefix("duration("), rest.hasSuffix(")") else { throw bad }
        var inner = rest.dropFirst(9).dropLast()
        guard let quote = inner.first, quote == "\"" || quote == "'", inner.count >= 2, inner.last == quote else { throw bad }
        inner = inner.dropFirst().dropLast()
        let seconds: Int
        do { seconds = try DurationText.wholeSeconds(String(inner)) } catch {
            throw RangeWindowError("rangeQuery.\(field): \(error)")
        }
        guard seconds <= Limits.maxDurationSeconds else {
            throw RangeWindowError("rangeQuery.\(field): duration('\(inner)') is more than a year")
        }
        return sign == "-" ? now - Int64(seconds) : now + Int64(seconds)
    }
}

public struct RangeWindowError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
