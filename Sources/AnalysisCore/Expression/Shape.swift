import Foundation

/// What a value may be, as far as can be told before anything is measured:
/// enough to see that `result.status == 200` can never be evaluated against
/// Prometheus, which answers with numbers.
public indirect enum Shape: Sendable, Equatable {
    case any
    case number, bool, string, null, object
    case array(Shape)
    /// A range query's answer: every sample of every series, one list of
    /// numbers that is never taken as one number (it holds one only by chance).
    case samples
    case oneOf([Shape])

    /// What Prometheus answers: a scalar, or one number per series (a
    /// one-element vector used as a number is that number); a range vector
    /// (a query ending in `[5m]`) is one list per series.
    public static func prometheus(query: String, rangeQuery: Bool = false) -> Shape {
        rangeQuery ? .samples : endsInRangeSelector(query) ? .array(.array(.number)) : .oneOf([.number, .array(.number)])
    }

    /// `x[5m]`, `rate(x[1m])[10m:1m]`: the query's outermost value is a range vector.
    static func endsInRangeSelector(_ query: String) -> Bool {
        let q = query.trimmingCharacters(in: .whitespacesAndNewlines)
        guard q.hasSuffix("]"), let open = q.lastIndex(of: "[") else { return false }
        let inside = q[q.index(after: open)..<q.index(before: q.endIndex)]
        return !inside.isEmpty && inside.allSatisfy { $0.isLetter || $0.isNumber || $0 == ":" }
            && inside.first?.isNumber == true
    }

    var alternatives: [Shape] {
        if case .oneOf(let shapes) = self { return shapes.flatMap(\.alternatives) }
        return [self]
    }

    /// "a number or a list of numbers".
    public var description: String {
        var seen: [String] = []
        for s in alternatives {
            let d: String
            switch s {
            case .any: d = "anything"
            case .number: d = "a number"
            case .bool: d = "true or false"
            case .string: d = "a string"
            case .null: d = "nil"
            case .object: d = "an object"
            case .array(.any): d = "a list"
            case .array(.number): d = "a list of numbers"
            case .array(.array(.number)): d = "a list of lists of numbers"
            case .array(let inner): d = "a list of (\(inner.description))"
            case .samples: d = "a list of numbers, one per sample"
            case .oneOf: d = s.description
            }
            if !seen.contains(d) { seen.append(d) }
        }
        return seen.count <= 1 ? seen.first ?? "nothing" : seen.dropLast().joined(separator: ", ") + " or " + (seen.last ?? "")
    }

    func allows(_ test: (Shape) -> Bool) -> Bool { alternatives.contains { $0 == .any || test($0) } }

    var mayBeBool: Bool { allows { $0 == .bool } }
    var mayBeString: Bool { allows { $0 == .string } }
    /// A number, or a list that may hold exactly one number.
    var mayBeNumber: Bool {
        allows {
            if $0 == .number { return true }
            if case .array(let inner) = $0 { return inner.allows { $0 == .number } }
            return false
        }
    }
    var mayBeIndexed: Bool { mayBeArray || mayBeObject }
    var mayBeObject: Bool { allows { $0 == .object } }
    var mayBeArray: Bool { allows { if case .array = $0 { true } else { $0 == .samples } } }
    /// What indexing it may give.
    var element: Shape {
        let inner: [Shape] = alternatives.compactMap {
            switch $0 {
            case .array(let e): return e
            case .samples: return .number
            case .object, .any: return .any
            default: return nil
            }
        }
        if inner.count == 1, let only = inner.first { return only }
        return .oneOf(inner)
    }

    /// Whether `==` between the two can ever be true.
    static func mayEqual(_ a: Shape, _ b: Shape) -> Bool {
        if a.allows({ _ in false }) || b.allows({ _ in false }) { return true }  // .any
        if a.mayBeNumber && b.mayBeNumber { return true }
        for x in a.alternatives {
            for y in b.alternatives where kind(x) == kind(y) { return true }
        }
        return false
    }

    static func kind(_ s: Shape) -> String {
        switch s {
        case .array, .samples: return "array"
        default: return s.description
        }
    }
}
