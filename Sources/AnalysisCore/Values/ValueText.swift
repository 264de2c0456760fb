import Foundation
import KubeAPI

/// A measured value as people read it: `0.97`, `[0.97]`, `NaN`, `"ok"`.
public enum ValueText {
    public static func format(_ value: JSONValue) -> String {
        switch value {
        case .null: return "nil"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n):
            if n.isNaN { return "NaN" }
            if n.isInfinite { return n > 0 ? "+Inf" : "-Inf" }
            if n == n.rounded(), abs(n) < 1e15, let i = Int64(exactly: n) { return String(i) }
            return String(format: "%.4g", n)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(format).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.sorted { $0.key < $1.key }.map { "\($0.key):\(format($0.value))" }.joined(separator: ",") + "}"
        }
    }

    /// How many bytes of a measurement's value or message are stored (4 KiB):
    /// enough for any value a condition is written against, small enough that
    /// a run's status stays far below what the API server accepts.
    public static let storedLimit = 4096

    /// The text cut to at most `limit` UTF-8 bytes, at a character boundary,
    /// ending with a visible marker that says how long it was:
    /// `… [truncated, 1048576 bytes]`. Redact before truncating: a cut must
    /// never leave part of a secret.
    public static func truncated(_ text: String, limit: Int = storedLimit) -> String {
        let count = text.utf8.count
        guard count > limit else { return text }
        let marker = "… [truncated, \(count) bytes]"
        let budget = max(0, limit - marker.utf8.count)
        var used = 0
        var end = text.unicodeScalars.startIndex
        for scalar in text.unicodeScalars {
            let n = UTF8.width(scalar)
            if used + n > budget { break }
            used += n
            end = text.unicodeScalars.index(after: end)
        }
        return String(text.unicodeScalars[..<end]) + marker
    }
}
