import KubeAPI

/// Kubernetes' int-or-string, used for maxSurge/maxUnavailable ("25%" or 2)
/// and for pause durations ("30s" or 30).
public enum IntOrString: Codable, Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else {
            self = .string(try c.decode(String.self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .int(let i): return String(i)
        case .string(let s): return s
        }
    }

    public enum ScaleError: Error, Equatable, CustomStringConvertible {
        case invalid(String)
        public var description: String {
            switch self {
            case .invalid(let s):
                return "\"\(s)\" is not an integer from 0 to \(Limits.maxReplicas) nor a percentage from 0% to \(Limits.maxPercent)%"
            }
        }
    }

    /// An absolute count against `total`: a percentage rounds up (maxSurge) or
    /// down (maxUnavailable), as Deployments do. Counts above
    /// `Limits.maxReplicas` and percentages above `Limits.maxPercent` are refused.
    public func scaled(total: Int, roundUp: Bool) throws -> Int {
        switch self {
        case .int(let i):
            guard (0...Limits.maxReplicas).contains(i) else { throw ScaleError.invalid(String(i)) }
            return i
        case .string(let s):
            if let i = Int(s) {
                guard (0...Limits.maxReplicas).contains(i) else { throw ScaleError.invalid(s) }
                return i
            }
            guard s.hasSuffix("%"), let pct = Int(s.dropLast()), (0...Limits.maxPercent).contains(pct),
                  (0...Limits.maxReplicas).contains(total) else { throw ScaleError.invalid(s) }
            let product = total * pct
            return roundUp ? (product + 99) / 100 : product / 100
        }
    }
}

extension IntOrString: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral {
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }
}
