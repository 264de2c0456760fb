import AviaryAPI
import Foundation
import KubeAPI

/// One metric of an AnalysisRun as the dashboard charts it: its conditions,
/// the thresholds read from them (a line on the chart), its counts and its
/// measurements with a number where the value is one.
public struct RunMetric: Codable, Sendable, Hashable {
    public struct Measurement: Codable, Sendable, Hashable {
        public var phase: String
        public var startedAt: KubeTime?
        public var finishedAt: KubeTime?
        /// The provider's result as stored, e.g. "[0.97]".
        public var value: String?
        /// The value as a number when it is one (or a one-element list of one); nil otherwise, never NaN or infinite.
        public var number: Double?
        public var message: String?
    }

    /// A comparison of the result against a constant, found in a condition:
    /// `result[0] >= 0.95` is {condition: "success", operator: ">=", value: 0.95}.
    public struct Threshold: Codable, Sendable, Hashable {
        /// "success" or "failure": which condition it came from.
        public var condition: String
        /// ">=", ">", "<=", "<", "==" or "!=", with the result on the left.
        public var `operator`: String
        public var value: Double
    }

    public var name: String
    public var phase: String
    public var successCondition: String?
    public var failureCondition: String?
    public var thresholds: [Threshold]
    public var failureLimit: String?
    public var inconclusiveLimit: String?
    public var count: Int
    public var successful: Int
    public var failed: Int
    public var inconclusive: Int
    public var error: Int
    public var dryRun: Bool
    public var message: String?
    public var measurements: [Measurement]

    /// The metric named in the run's spec, with its result (either may be missing).
    init(spec: Metric?, result: MetricResult?) {
        name = clipText(spec?.name ?? result?.name ?? "", 253)
        phase = (result?.phase ?? .Pending).rawValue
        successCondition = spec?.successCondition.map { clipText($0, RolloutSummary.maxText) }
        failureCondition = spec?.failureCondition.map { clipText($0, RolloutSummary.maxText) }
        thresholds = Self.thresholds(successCondition, "success") + Self.thresholds(failureCondition, "failure")
        failureLimit = spec?.failureLimit.map { clipText($0.description, 64) }
        inconclusiveLimit = spec?.inconclusiveLimit.map { clipText($0.description, 64) }
        count = result?.count ?? 0
        successful = result?.successful ?? 0
        failed = result?.failed ?? 0
        inconclusive = result?.inconclusive ?? 0
        error = result?.error ?? 0
        dryRun = result?.dryRun ?? false
        message = result?.message.map { clipText($0, RolloutSummary.maxText) }
        measurements = (result?.measurements ?? []).suffix(RolloutSummary.maxMeasurements).map { m in
            Measurement(phase: m.phase.rawValue, startedAt: m.startedAt, finishedAt: m.finishedAt,
                        value: m.value.map { clipText($0, 1_024) }, number: Self.number(m.value), message: m.message.map { clipText($0, 1_024) })
        }
    }

    /// "0.97", "[0.97]", " [ 3 ] " → a finite number; anything else → nil.
    static func number(_ text: String?) -> Double? {
        guard var s = text?.trimmingCharacters(in: .whitespacesAndNewlines), !s.isEmpty, s.utf8.count <= 64 else { return nil }
        if s.hasPrefix("["), s.hasSuffix("]") {
            s = String(s.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
            guard !s.contains(",") else { return nil }
        }
        // Double("nan"), Double("inf") parse; JSON has no such numbers and a chart has no place for them.
        guard let d = Double(s), d.isFinite else { return nil }
        return d
    }

    /// Comparisons of the result (`result`, `result[0]`, `asFloat(result)`) against a number literal.
    static func thresholds(_ condition: String?, _ which: String) -> [Threshold] {
        guard let condition, condition.utf8.count <= RolloutSummary.maxText else { return [] }
        let tokens = ConditionTokens.scan(condition)
        var found: [Threshold] = []
        for (i, t) in tokens.enumerated() {
            guard case .op(let op) = t, i > 0, i + 1 < tokens.count else { continue }
            if case .result = tokens[i - 1], case .number(let v) = tokens[i + 1] {
                found.append(Threshold(condition: which, operator: op, value: v))
            } else if case .number(let v) = tokens[i - 1], case .result = tokens[i + 1] {
                found.append(Threshold(condition: which, operator: flipped(op), value: v))
            }
            if found.count >= 4 { break }
        }
        return found
    }

    /// `0.95 <= result` is `result >= 0.95`.
    static func flipped(_ op: String) -> String {
        switch op {
        case ">=": return "<="
        case "<=": return ">="
        case ">": return "<"
        case "<": return ">"
        default: return op
        }
    }
}

/// Just enough of the condition language to find `result OP number`: the
/// result (with an optional `[0]` or inside `asFloat(…)`), comparison
/// operators and number literals; everything else is `.other`.
enum ConditionTokens: Equatable {
    case result, op(String), number(Double), other

    static func scan(_ text: String) -> [ConditionTokens] {
        let chars = Array(text.unicodeScalars)
        var tokens: [ConditionTokens] = []
        var i = 0
        func at(_ k: Int) -> Unicode.Scalar? { k >= 0 && k < chars.count ? chars[k] : nil }
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" { i += 1; continue }
            if let n = at(i + 1), ["<", ">", "=", "!"].contains(c), n == "=" {
                tokens.append(.op(String(c) + "=")); i += 2; continue
            }
            if c == "<" || c == ">" { tokens.append(.op(String(c))); i += 1; continue }
            if CharacterSet.decimalDigits.contains(c) || (c == "." && at(i + 1).map { CharacterSet.decimalDigits.contains($0) } == true) {
                var j = i
                while let d = at(j), CharacterSet.decimalDigits.contains(d) || d == "." || d == "e" || d == "E"
                    || ((d == "-" || d == "+") && (at(j - 1) == "e" || at(j - 1) == "E")) { j += 1 }
                let literal = String(String.UnicodeScalarView(chars[i..<j]))
                tokens.append(Double(literal).flatMap { $0.isFinite ? .number($0) : nil } ?? .other)
                i = j
                continue
            }
            if CharacterSet.letters.contains(c) || c == "_" {
                var j = i
                while let d = at(j), CharacterSet.alphanumerics.contains(d) || d == "_" { j += 1 }
                let word = String(String.UnicodeScalarView(chars[i..<j]))
                i = j
                if word == "result" {
                    // result[0]
                    if at(i) == "[", at(i + 1) == "0", at(i + 2) == "]" { i += 3 }
                    tokens.append(.result)
                } else if word == "asFloat" || word == "asInt", at(i) == "(" {
                    // asFloat(result) or asFloat(result[0]) reads as the result.
                    let rest = String(String.UnicodeScalarView(chars[i..<min(chars.count, i + 12)]))
                    if rest.hasPrefix("(result[0])") { i += 11; tokens.append(.result) } else if rest.hasPrefix("(result)") { i += 8; tokens.append(.result) } else { tokens.append(.other) }
                } else {
                    tokens.append(.other)
                }
                continue
            }
            // A unary minus before a number.
            if c == "-", let n = at(i + 1), CharacterSet.decimalDigits.contains(n), tokens.last.map({ if case .op = $0 { return true }; return false }) ?? true {
                var j = i + 1
                while let d = at(j), CharacterSet.decimalDigits.contains(d) || d == "." { j += 1 }
                let literal = String(String.UnicodeScalarView(chars[i..<j]))
                tokens.append(Double(literal).map { .number($0) } ?? .other)
                i = j
                continue
            }
            tokens.append(.other)
            i += 1
        }
        return tokens
    }
}

/// Cut to at most `limit` UTF-8 bytes, at a character boundary.
func clipText(_ s: String, _ limit: Int) -> String {
    guard s.utf8.count > limit else { return s }
    var out = ""
    var used = 0
    for ch in s {
        let n = ch.utf8.count
        if used + n > limit - 3 { break }
        out.append(ch)
        used += n
    }
    return out + "…"
}
