import Foundation
import KubeAPI

/// Templates as Argo writes them, `{{.rollout.metadata.name}}`, for the
/// part of Go's text/template people use in notifications: a dotted path
/// into what the notification is about. A path that leads nowhere renders
/// as Go does, `<no value>`, so a typo shows in the message instead of
/// failing the notification; anything else between `{{ }}` is kept as written.
public enum TemplateText {
    /// The longest text a template renders to (a hostile Rollout name repeated must not make a huge message).
    public static let maxLength = 16_384

    public static func render(_ template: String, _ context: JSONValue) -> String {
        var out = ""
        var rest = Substring(template)
        while let open = rest.range(of: "{{") {
            out += rest[rest.startIndex..<open.lowerBound]
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                out += rest[open.lowerBound...]
                rest = ""
                break
            }
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            if inner.hasPrefix("."), inner.dropFirst().allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" }) {
                out += text(of: context.value(at: inner.dropFirst().split(separator: ".").map(String.init)))
            } else {
                out += rest[open.lowerBound..<close.upperBound]
            }
            rest = rest[close.upperBound...]
            if out.utf8.count > maxLength { break }
        }
        out += rest
        return out.utf8.count > maxLength ? String(out.prefix(maxLength)) + "…" : out
    }

    static func text(of value: JSONValue?) -> String {
        switch value {
        case nil, .null?: return "<no value>"
        case .string(let s)?: return s
        case .bool(let b)?: return b ? "true" : "false"
        case .number(let d)?: return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case let v?:
            return (try? String(decoding: JSONEncoder().encode(v), as: UTF8.self)) ?? "<no value>"
        }
    }
}
