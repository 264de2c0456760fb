import Foundation
import Kube

/// A measured value as people read it: `0.97`, `[0.97]`, `NaN`, `"ok"`.
public enum ValueText {
    public static func format(_ value: JSONValue) -> String {
        switch value {
        case .null: return "nil"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n):
            if n.isNaN { return "NaN" }
            if n.isInfinite { return n > 0 ? "+Inf" : "-Inf" }
            if n == n.rounded(), abs(n) < 1e15 { return String(Int64(n)) }
            return String(format: "%.4g", n)
        case .string(let s): return s
        case .array(let a): return "[" + a.map(format).joined(separator: ",") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "\($0):\(format(o[$0]!))" }.joined(separator: ",") + "}"
        }
    }
}
