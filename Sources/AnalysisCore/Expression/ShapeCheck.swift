extension Expression {
    /// Why this condition can never be evaluated when `result` has the given
    /// shape (`result.status == 200` against Prometheus), or nil when it may
    /// be. Only certain failures are reported: whatever might work is let be.
    /// - Parameter source: what `result` is, for the message ("what Prometheus answers").
    public func shapeProblem(result: Shape, source: String) -> ExpressionError? {
        do {
            let shape = try ShapeCheck(result: result, source: source).infer(self, element: nil)
            guard shape.mayBeBool else {
                return ExpressionError("\(text) gives \(shape.description), never true or false: compare it, as in result >= 0.95", column: 1)
            }
            return nil
        } catch let e as ExpressionError {
            return e
        } catch {
            return ExpressionError("\(error)")
        }
    }
}

/// Infers the shape of each node from `result`'s, and throws at the first
/// node that cannot be evaluated whatever `result` turns out to hold.
struct ShapeCheck {
    let result: Shape
    let source: String

    /// "result (what Prometheus answers) is a number or a list of numbers".
    func side(_ e: Expression, _ s: Shape) -> String {
        if case .variable("result", _) = e { return "result (\(source)) is \(s.description)" }
        return "\(e.text) is \(s.description)"
    }

    func infer(_ e: Expression, element: Shape?) throws -> Shape {
        func never(_ why: String, _ column: Int) -> ExpressionError {
            ExpressionError("\(e.text) can never be evaluated: \(why)", column: column)
        }
        switch e {
        case .literal(let v):
            switch v {
            case .number: return .number
            case .bool: return .bool
            case .string: return .string
            case .null: return .null
            case .array: return .array(.any)
            case .object: return .object
            }
        case .array(let items):
            let shapes = try items.map { try infer($0, element: element) }
            if shapes.count == 1, let only = shapes.first { return .array(only) }
            return .array(shapes.isEmpty ? .any : .oneOf(shapes))
        case .variable(let name, let column):
            guard name == "result" else { throw ExpressionError("unknown name \"\(name)\": a condition sees only result", column: column) }
            return result
        case .element(let column):
            guard let element else { throw ExpressionError("# is only meaningful inside all, any, filter or map", column: column) }
            return element
        case .index(let base, let index, let column):
            let b = try infer(base, element: element)
            _ = try infer(index, element: element)
            guard b.mayBeIndexed else { throw never("\(side(base, b)), which cannot be indexed", column) }
            return b.element
        case .member(let base, _, let column):
            let b = try infer(base, element: element)
            guard b.mayBeObject else { throw never("\(side(base, b)), which has no fields", column) }
            return .any
        case .unary(let op, let operand, let column):
            let s = try infer(operand, element: element)
            if op == "!" {
                guard s.mayBeBool else { throw never("! needs true or false, and \(side(operand, s))", column) }
                return .bool
            }
            guard s.mayBeNumber else { throw never("\(op) needs a number, and \(side(operand, s))", column) }
            return .number
        case .binary(let op, let lhs, let rhs, let column):
            let a = try infer(lhs, element: element), b = try infer(rhs, element: element)
            let both = "\(side(lhs, a)), \(side(rhs, b))"
            switch op {
            case "&&", "||":
                for (x, s) in [(lhs, a), (rhs, b)] where !s.mayBeBool {
                    throw never("\(op) needs true or false on both sides, and \(side(x, s))", column)
                }
                return .bool
            case "==", "!=":
                guard Shape.mayEqual(a, b) else {
                    throw ExpressionError("\(e.text) is \(op == "==" ? "never true" : "always true"): \(both)", column: column)
                }
                return .bool
            case "<", "<=", ">", ">=":
                guard (a.mayBeNumber && b.mayBeNumber) || (a.mayBeString && b.mayBeString) else {
                    throw never("\(op) compares two numbers or two strings, and \(both)", column)
                }
                return .bool
            case "+":
                let numbers = a.mayBeNumber && b.mayBeNumber, strings = a.mayBeString && b.mayBeString
                guard numbers || strings else { throw never("+ adds two numbers or joins two strings, and \(both)", column) }
                return numbers && strings ? .oneOf([.number, .string]) : numbers ? .number : .string
            default:
                guard a.mayBeNumber && b.mayBeNumber else { throw never("\(op) needs two numbers, and \(both)", column) }
                return .number
            }
        case .call(let name, let args, let column):
            guard let first = args.first else { return .any }
            let s = try infer(first, element: element)
            // A predicate is inferred with its list's elements as #, below; other arguments here.
            let predicate = ["all", "any", "none", "filter", "map"].contains(name)
            let shapes = try [s] + args.dropFirst().map { predicate ? .any : try infer($0, element: element) }
            switch name {
            case "len":
                guard s.mayBeArray || s.mayBeString || s.mayBeObject else {
                    throw never("len needs a list, a string or an object, and \(side(first, s))", column)
                }
                return .number
            case "all", "any", "none", "filter", "map":
                guard s.mayBeArray else { throw never("\(name) needs a list first, and \(side(first, s))", column) }
                guard let predicate = args.dropFirst().first else { return .any }
                let p = try infer(predicate, element: s.element)
                if name == "map" { return .array(p) }
                guard p.mayBeBool else { throw never("the predicate of \(name) must give true or false, and \(side(predicate, p))", column) }
                return name == "filter" ? .array(s.element) : .bool
            case "isNaN", "isInf":
                guard s.mayBeNumber else { throw never("\(name) needs a number, and \(side(first, s))", column) }
                return .bool
            case "isNil":
                return .bool
            case "asInt", "asFloat":
                guard s.mayBeNumber || s.mayBeString else { throw never("\(name) needs a number or a string, and \(side(first, s))", column) }
                return .number
            case "default":
                return .oneOf(shapes)
            default:
                return .any
            }
        }
    }
}
