import KubeAPI

/// Prometheus answers `sum(rate(…)) / sum(rate(…))` with a one-element
/// vector, and people write `result >= 0.95` against it. In Argo that is an
/// Error every time ("does not apply to an array and a number", Argo #363)
/// until consecutiveErrorLimit aborts the rollout for nothing. Here a
/// one-element array of a number, used as a number, is that number; an empty
/// one says the query returned no data; a longer one says how many series
/// came back and how to pick. Nothing that works in Argo changes: these are
/// only the places where Argo gives an error (or, for `==`, a comparison
/// that is never true).
extension Expression {
    /// `value` as a number when it is a one-element array of one; other values pass through.
    /// - Parameters:
    ///   - operand: the expression that gave `value`, for the message.
    ///   - node: the enclosing expression with `operand` replaced by its argument, to suggest rewrites.
    static func single(_ value: JSONValue, _ operand: Expression, in node: (Expression) -> Expression, column: Int) throws -> JSONValue {
        guard case .array(let items) = value else { return value }
        let isResult: Bool
        if case .variable("result", _) = operand { isResult = true } else { isResult = false }
        switch items.count {
        case 1:
            if let only = items.first, case .number = only { return only }
            return value
        case 0:
            let written = node(operand).text
            let start = isResult ? "query returned no data: result is empty" : "\(operand.text) is empty"
            throw ExpressionError("\(start), so \(written) has no number to use; to make it true when there is no data, write len(\(operand.text)) == 0 || \(written)",
                                  column: column)
        default:
            guard items.allSatisfy({ if case .number = $0 { true } else { false } }) else { return value }
            let n = items.count
            let first = node(.index(operand, .literal(.number(0)), column: column)).text
            let every = Expression.call("all", [operand, node(.element(column: column))], column: column).text
            let start = isResult ? "the query returned \(n) series, so result holds \(n) numbers, not one" : "\(operand.text) holds \(n) numbers, not one"
            let total = isResult ? ", or put sum(…) around the query for their total" : ""
            throw ExpressionError("\(start): write \(first) for the first, \(every) for every one\(total)", column: column)
        }
    }

    /// Both operands of a binary operator, with arrays used as numbers where
    /// the operator needs numbers. `==`, `!=` and `+` also mean something for
    /// two arrays (equality, concatenation), so there only an array beside a
    /// number is taken as one.
    static func numbers(_ op: String, _ a: JSONValue, _ b: JSONValue, _ lhs: Expression, _ rhs: Expression, column: Int) throws -> (JSONValue, JSONValue) {
        let loose = op == "==" || op == "!=" || op == "+"
        func wanted(_ other: JSONValue) -> Bool {
            switch other {
            case .number: return true
            case .array: return !loose
            default: return false
            }
        }
        var x = a, y = b
        if case .array = a, wanted(b) { x = try single(a, lhs, in: { .binary(op, $0, rhs, column: column) }, column: column) }
        if case .array = b, wanted(a) { y = try single(b, rhs, in: { .binary(op, lhs, $0, column: column) }, column: column) }
        return (x, y)
    }
}
