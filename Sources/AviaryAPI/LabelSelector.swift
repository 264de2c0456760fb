/// A label selector: matchLabels plus matchExpressions.
public struct LabelSelector: Codable, Sendable, Hashable {
    public struct Requirement: Codable, Sendable, Hashable {
        public var key: String
        public var `operator`: String
        public var values: [String]?

        public init(key: String, operator op: String, values: [String]? = nil) {
            self.key = key
            self.operator = op
            self.values = values
        }
    }

    public var matchLabels: [String: String]?
    public var matchExpressions: [Requirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [Requirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    public var isEmpty: Bool { (matchLabels ?? [:]).isEmpty && (matchExpressions ?? []).isEmpty }

    /// Whether a set of labels satisfies the selector. An empty selector matches everything.
    public func matches(_ labels: [String: String]) -> Bool {
        for (k, v) in matchLabels ?? [:] where labels[k] != v { return false }
        for r in matchExpressions ?? [] {
            let value = labels[r.key]
            switch r.operator {
            case "In": guard let value, r.values?.contains(value) == true else { return false }
            case "NotIn": if let value, r.values?.contains(value) == true { return false }
            case "Exists": guard value != nil else { return false }
            case "DoesNotExist": guard value == nil else { return false }
            default: return false
            }
        }
        return true
    }

    /// The selector in the API's query syntax, e.g. "app=web,tier in (a,b)".
    public var queryString: String {
        var parts = (matchLabels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        for r in matchExpressions ?? [] {
            let values = (r.values ?? []).joined(separator: ",")
            switch r.operator {
            case "In": parts.append("\(r.key) in (\(values))")
            case "NotIn": parts.append("\(r.key) notin (\(values))")
            case "Exists": parts.append(r.key)
            case "DoesNotExist": parts.append("!\(r.key)")
            default: continue
            }
        }
        return parts.joined(separator: ",")
    }
}
