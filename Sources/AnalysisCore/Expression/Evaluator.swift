import Foundation
import KubeAPI

extension Expression {
    /// Evaluates with `result` bound to a measurement's value; a condition must give a boolean.
    public func condition(result: JSONValue) throws -> Bool {
        guard case .bool(let b) = try evaluate(["result": result]) else {
            throw ExpressionError("the condition does not give true or false")
        }
        return b
    }

    /// The most steps one evaluation may take: `map(result, {map(result, {#})})`
    /// over a large answer is quadratic, and a condition must never hold a worker for long.
    public static let maxSteps = 1_000_000

    public func evaluate(_ variables: [String: JSONValue], element: JSONValue? = nil) throws -> JSONValue {
        try evaluate(variables, element: element, budget: Budget())
    }

    /// Steps left for one evaluation; shared by every node of it.
    final class Budget {
        var left = Expression.maxSteps
        func spend(_ column: Int?) throws {
            left -= 1
            guard left >= 0 else {
                throw ExpressionError("the condition takes more than \(Expression.maxSteps) steps to evaluate", column: column)
            }
        }
    }

    func evaluate(_ variables: [String: JSONValue], element: JSONValue?, budget: Budget) throws -> JSONValue {
        try budget.spend(nil)
        switch self {
        case .literal(let v):
            return v
        case .array(let items):
            return .array(try items.map { try $0.evaluate(variables, element: element, budget: budget) })
        case .variable(let name, let column):
            guard let v = variables[name] else { throw ExpressionError("unknown name \"\(name)\"", column: column) }
            return v
        case .element(let column):
            guard let element else { throw ExpressionError("# is only meaningful inside all, any, filter or map", column: column) }
            return element
        case .index(let base, let indexExpr, let column):
            let container = try base.evaluate(variables, element: element, budget: budget)
            let i = try indexExpr.evaluate(variables, element: element, budget: budget)
            switch (container, i) {
            case (.array(let a), .number(let n)):
                let text = ValueText.format(.number(n))
                if a.isEmpty, case .variable("result", _) = base {
                    throw ExpressionError("query returned no data: result is empty, so result[\(text)] does not exist", column: column)
                }
                // Any number may arrive here (1e19, NaN, -Inf, 0.5): only a whole one within the array indexes it.
                guard n.isFinite, n == n.rounded(), abs(n) <= Double(a.count), let k = Int(exactly: n) else {
                    throw ExpressionError("index \(text) is out of range (length \(a.count))", column: column)
                }
                let at = k < 0 ? a.count + k : k
                guard at >= 0, at < a.count else { throw ExpressionError("index \(k) is out of range (length \(a.count))", column: column) }
                return a[at]
            case (.object(let o), .string(let key)):
                return o[key] ?? .null
            case (.null, _):
                throw ExpressionError("cannot index nil", column: column)
            default:
                throw ExpressionError("cannot index \(Self.kind(container)) with \(Self.kind(i))", column: column)
            }
        case .member(let base, let name, let column):
            let v = try base.evaluate(variables, element: element, budget: budget)
            guard case .object(let o) = v else { throw ExpressionError("\(Self.kind(v)) has no field \"\(name)\"", column: column) }
            return o[name] ?? .null
        case .unary(let op, let operand, let column):
            var v = try operand.evaluate(variables, element: element, budget: budget)
            if op == "-" { v = try Self.single(v, operand, in: { .unary(op, $0, column: column) }, column: column) }
            switch (op, v) {
            case ("!", .bool(let b)): return .bool(!b)
            case ("-", .number(let n)): return .number(-n)
            default: throw ExpressionError("\(op) does not apply to \(Self.kind(v))", column: column)
            }
        case .binary(let op, let lhs, let rhs, let column):
            return try Self.binary(op, lhs, rhs, column: column, variables, element, budget)
        case .call(let name, let args, let column):
            return try Self.call(name, args, column: column, variables, element, budget)
        }
    }

    static func kind(_ v: JSONValue) -> String {
        switch v {
        case .null: return "nil"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    static func binary(_ op: String, _ lhs: Expression, _ rhs: Expression, column: Int,
                       _ variables: [String: JSONValue], _ element: JSONValue?, _ budget: Budget) throws -> JSONValue {
        let left = try lhs.evaluate(variables, element: element, budget: budget)
        if op == "&&" || op == "||" {
            guard case .bool(let x) = left else { throw ExpressionError("\(op) needs booleans, not \(kind(left))", column: column) }
            if op == "&&" && !x { return .bool(false) }
            if op == "||" && x { return .bool(true) }
            let b = try rhs.evaluate(variables, element: element, budget: budget)
            guard case .bool(let y) = b else { throw ExpressionError("\(op) needs booleans, not \(kind(b))", column: column) }
            return .bool(y)
        }
        let (a, b) = try numbers(op, left, try rhs.evaluate(variables, element: element, budget: budget), lhs, rhs, column: column)
        switch (op, a, b) {
        case ("==", _, _): return .bool(equal(a, b))
        case ("!=", _, _): return .bool(!equal(a, b))
        case (_, .number(let x), .number(let y)):
            switch op {
            case "+": return .number(x + y)
            case "-": return .number(x - y)
            case "*": return .number(x * y)
            case "/": return .number(x / y)
            case "%": return .number(x.truncatingRemainder(dividingBy: y))
            case "<": return .bool(x < y)
            case "<=": return .bool(x <= y)
            case ">": return .bool(x > y)
            case ">=": return .bool(x >= y)
            default: break
            }
        case ("+", .string(let x), .string(let y)):
            guard x.utf8.count + y.utf8.count <= 1 << 20 else { throw ExpressionError("+ would make a string longer than 1 MiB", column: column) }
            return .string(x + y)
        case (_, .string(let x), .string(let y)):
            switch op {
            case "<": return .bool(x < y)
            case "<=": return .bool(x <= y)
            case ">": return .bool(x > y)
            case ">=": return .bool(x >= y)
            default: break
            }
        default: break
        }
        if case .array(let arr) = a, arr.isEmpty, case .variable("result", _) = lhs {
            throw ExpressionError("query returned no data: result is empty", column: column)
        }
        throw ExpressionError("\(op) does not apply to \(kind(a)) and \(kind(b))", column: column)
    }

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if case .number(let x) = a, case .number(let y) = b { return x == y }
        return a == b
    }

    static func call(_ name: String, _ args: [Expression], column: Int,
                     _ variables: [String: JSONValue], _ element: JSONValue?, _ budget: Budget) throws -> JSONValue {
        func arity(_ n: Int) throws {
            guard args.count == n else { throw ExpressionError("\(name) takes \(n) argument\(n == 1 ? "" : "s"), not \(args.count)", column: column) }
        }
        func value(_ i: Int) throws -> JSONValue { try args[i].evaluate(variables, element: element, budget: budget) }
        /// The only argument, a one-element array taken as its number.
        func numeric() throws -> JSONValue { try single(try value(0), args[0], in: { .call(name, [$0], column: column) }, column: column) }
        func number(_ v: JSONValue) throws -> Double {
            guard case .number(let n) = v else { throw ExpressionError("\(name) needs a number, not \(kind(v))", column: column) }
            return n
        }
        switch name {
        case "len":
            try arity(1)
            switch try value(0) {
            case .array(let a): return .number(Double(a.count))
            case .string(let s): return .number(Double(s.count))
            case .object(let o): return .number(Double(o.count))
            case let v: throw ExpressionError("len needs an array, a string or an object, not \(kind(v))", column: column)
            }
        case "all", "any", "filter", "map", "none":
            try arity(2)
            guard case .array(let items) = try value(0) else { throw ExpressionError("\(name) needs an array first", column: column) }
            var out: [JSONValue] = []
            for item in items {
                let r = try args[1].evaluate(variables, element: item, budget: budget)
                if name == "map" { out.append(r); continue }
                guard case .bool(let b) = r else { throw ExpressionError("the predicate of \(name) must give true or false", column: column) }
                switch name {
                case "all": if !b { return .bool(false) }
                case "any": if b { return .bool(true) }
                case "none": if b { return .bool(false) }
                default: if b { out.append(item) }
                }
            }
            switch name {
            case "all", "none": return .bool(true)
            case "any": return .bool(false)
            default: return .array(out)
            }
        case "isNaN":
            try arity(1)
            return .bool(try number(try numeric()).isNaN)
        case "isInf":
            try arity(1)
            return .bool(try number(try numeric()).isInfinite)
        case "isNil":
            try arity(1)
            return .bool(try value(0) == .null)
        case "asInt":
            try arity(1)
            switch try numeric() {
            case .number(let n): return .number(n.rounded(.towardZero))
            case .string(let s):
                guard let n = Double(s) else { throw ExpressionError("asInt: \"\(s)\" is not a number", column: column) }
                return .number(n.rounded(.towardZero))
            case let v: throw ExpressionError("asInt needs a number or a string, not \(kind(v))", column: column)
            }
        case "asFloat":
            try arity(1)
            switch try numeric() {
            case .number(let n): return .number(n)
            case .string(let s):
                guard let n = Double(s) else { throw ExpressionError("asFloat: \"\(s)\" is not a number", column: column) }
                return .number(n)
            case let v: throw ExpressionError("asFloat needs a number or a string, not \(kind(v))", column: column)
            }
        case "default":
            try arity(2)
            let v = try? value(0)
            if let v, v != .null { return v }
            return try value(1)
        default:
            throw ExpressionError("unknown function \"\(name)\"", column: column)
        }
    }
}
