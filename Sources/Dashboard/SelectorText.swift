import AviaryAPI
import Foundation

/// A label selector as kubectl takes it (`app=web,tier!=db,env in (a,b),!canary`)
/// read into a `LabelSelector`, for the list's label filter.
enum SelectorText {
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ text: String) throws(Invalid) -> LabelSelector {
        guard text.utf8.count <= 1_024 else { throw Invalid(description: "is longer than 1024 bytes") }
        var labels: [String: String] = [:]
        var expressions: [LabelSelector.Requirement] = []
        for term in split(text) {
            let t = term.trimmingCharacters(in: .whitespaces)
            if t.isEmpty { continue }
            if let r = try setTerm(t) {
                expressions.append(r)
            } else if let range = t.range(of: "!=") {
                expressions.append(.init(key: try key(t[..<range.lowerBound]), operator: "NotIn", values: [try value(t[range.upperBound...])]))
            } else if let range = t.range(of: "==") ?? t.range(of: "=") {
                labels[try key(t[..<range.lowerBound])] = try value(t[range.upperBound...])
            } else if t.hasPrefix("!") {
                expressions.append(.init(key: try key(t.dropFirst()), operator: "DoesNotExist"))
            } else {
                expressions.append(.init(key: try key(Substring(t)), operator: "Exists"))
            }
        }
        return LabelSelector(matchLabels: labels.isEmpty ? nil : labels, matchExpressions: expressions.isEmpty ? nil : expressions)
    }

    /// Commas split terms, except inside `( … )`.
    static func split(_ text: String) -> [String] {
        var terms: [String] = [], current = "", depth = 0
        for ch in text {
            if ch == "(" { depth += 1 } else if ch == ")" { depth = max(0, depth - 1) }
            if ch == ",", depth == 0 { terms.append(current); current = "" } else { current.append(ch) }
        }
        terms.append(current)
        return terms
    }

    /// `key in (a,b)` / `key notin (a,b)`; nil for any other term.
    static func setTerm(_ t: String) throws(Invalid) -> LabelSelector.Requirement? {
        let words = t.split(separator: " ", maxSplits: 1)
        guard words.count == 2 else { return nil }
        let rest = words[1].trimmingCharacters(in: .whitespaces)
        let op: String
        let list: Substring
        if rest.hasPrefix("in ") || rest.hasPrefix("in(") { op = "In"; list = rest.dropFirst(2) } else if rest.hasPrefix("notin") { op = "NotIn"; list = rest.dropFirst(5) } else { return nil }
        let inner = list.trimmingCharacters(in: .whitespaces)
        guard inner.hasPrefix("("), inner.hasSuffix(")") else { throw Invalid(description: "\"\(t)\": a set is written (a,b)") }
        let values = try inner.dropFirst().dropLast().split(separator: ",").map { v throws(Invalid) in try value(Substring(v.trimmingCharacters(in: .whitespaces))) }
        return .init(key: try key(words[0]), operator: op, values: values)
    }

    static func key(_ s: Substring) throws(Invalid) -> String {
        let k = s.trimmingCharacters(in: .whitespaces)
        guard !k.isEmpty, k.utf8.count <= 317, k.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./".contains($0)) }) else {
            throw Invalid(description: "\"\(k)\" is not a label key")
        }
        return k
    }

    static func value(_ s: Substring) throws(Invalid) -> String {
        let v = s.trimmingCharacters(in: .whitespaces)
        guard v.utf8.count <= 63, v.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw Invalid(description: "\"\(v)\" is not a label value")
        }
        return v
    }
}
