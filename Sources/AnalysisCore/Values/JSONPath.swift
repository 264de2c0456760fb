import Foundation
import KubeAPI

/// The JSONPath subset web metrics use: `{$.data.ok}`, `$.items[0].value`,
/// `{$.results[*].rate}`. Enough to pick a value out of a JSON answer.
public enum JSONPath {
    public static func select(_ path: String, in json: JSONValue) throws -> JSONValue {
        var p = path.trimmingCharacters(in: .whitespaces)
        if p.hasPrefix("{"), p.hasSuffix("}") { p = String(p.dropFirst().dropLast()) }
        guard p.hasPrefix("$") else { throw ProviderError("jsonPath \(path): must start with $") }
        var current: [JSONValue] = [json]
        var wildcard = false
        var rest = Substring(p.dropFirst())
        while let ch = rest.first {
            if ch == "." {
                rest = rest.dropFirst()
                let name = rest.prefix { $0 != "." && $0 != "[" }
                rest = rest.dropFirst(name.count)
                guard !name.isEmpty else { throw ProviderError("jsonPath \(path): empty field name") }
                current = current.compactMap { $0[String(name)] }
            } else if ch == "[" {
                guard let close = rest.firstIndex(of: "]") else { throw ProviderError("jsonPath \(path): missing ]") }
                let inner = rest[rest.index(after: rest.startIndex)..<close]
                rest = rest[rest.index(after: close)...]
                if inner == "*" {
                    wildcard = true
                    current = current.flatMap { v -> [JSONValue] in
                        if case .array(let a) = v { return a }
                        if case .object(let o) = v { return o.sorted { $0.key < $1.key }.map(\.value) }
                        return []
                    }
                } else if let i = Int(inner) {
                    current = current.compactMap { v in
                        guard case .array(let a) = v else { return nil }
                        let j = i < 0 ? a.count + i : i
                        return a.indices.contains(j) ? a[j] : nil
                    }
                } else {
                    let key = inner.trimmingCharacters(in: CharacterSet(charactersIn: "'\""))
                    current = current.compactMap { $0[key] }
                }
            } else {
                throw ProviderError("jsonPath \(path): unexpected \"\(ch)\"")
            }
        }
        if wildcard { return .array(current) }
        guard let value = current.first else { throw ProviderError("jsonPath \(path): no such field in the response") }
        return value
    }
}
