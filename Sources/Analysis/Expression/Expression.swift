import Kube

/// A parsed condition such as `result[0] >= 0.95` or
/// `len(result) == 0 || all(result, {# < 0.5})`.
public indirect enum Expression: Sendable, Equatable {
    case literal(JSONValue)
    case array([Expression])
    case variable(String, column: Int)
    /// `#`: the element inside all/any/filter/map.
    case element(column: Int)
    case index(Expression, Expression, column: Int)
    case member(Expression, String, column: Int)
    case unary(String, Expression, column: Int)
    case binary(String, Expression, Expression, column: Int)
    case call(String, [Expression], column: Int)

    /// Parses a condition; errors carry the column.
    public static func parse(_ text: String) throws -> Expression {
        var p = Parser(tokens: try Lexer.tokens(text))
        let e = try p.expression(0)
        guard case .end = p.current.kind else { throw ExpressionError("unexpected \(p.describe(p.current))", column: p.current.column) }
        return e
    }
}

/// A Pratt parser: precedence climbing over the binary operators.
struct Parser {
    let tokens: [Token]
    var position = 0

    init(tokens: [Token]) { self.tokens = tokens }

    var current: Token { tokens[position] }

    func isSymbol(_ symbol: String) -> Bool {
        if case .symbol(let s) = current.kind { return s == symbol }
        return false
    }

    mutating func advance() -> Token {
        let t = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return t
    }

    func describe(_ t: Token) -> String {
        switch t.kind {
        case .number(let n): return "number \(n)"
        case .string(let s): return "string \"\(s)\""
        case .identifier(let s): return "\"\(s)\""
        case .symbol(let s): return "\"\(s)\""
        case .end: return "end of expression"
        }
    }

    /// The binary operator at the current token, normalised (`and` → `&&`), with its precedence.
    func binaryOperator() -> (String, Int)? {
        let op: String
        switch current.kind {
        case .symbol(let s): op = s
        case .identifier("and"): op = "&&"
        case .identifier("or"): op = "||"
        default: return nil
        }
        switch op {
        case "||": return (op, 1)
        case "&&": return (op, 2)
        case "==", "!=": return (op, 3)
        case "<", "<=", ">", ">=": return (op, 4)
        case "+", "-": return (op, 5)
        case "*", "/", "%": return (op, 6)
        default: return nil
        }
    }

    mutating func expression(_ minPrecedence: Int) throws -> Expression {
        var left = try unary()
        while let (op, precedence) = binaryOperator(), precedence > minPrecedence {
            let t = advance()
            let right = try expression(precedence)
            left = .binary(op, left, right, column: t.column)
        }
        return left
    }

    mutating func unary() throws -> Expression {
        let t = current
        switch t.kind {
        case .symbol("!"), .identifier("not"):
            _ = advance()
            return .unary("!", try unary(), column: t.column)
        case .symbol("-"):
            _ = advance()
            return .unary("-", try unary(), column: t.column)
        default:
            return try postfix(try primary())
        }
    }

    mutating func postfix(_ base: Expression) throws -> Expression {
        var e = base
        while true {
            let t = current
            if case .symbol("[") = t.kind {
                _ = advance()
                let i = try expression(0)
                try expect("]")
                e = .index(e, i, column: t.column)
            } else if case .symbol(".") = t.kind {
                _ = advance()
                guard case .identifier(let name) = current.kind else {
                    throw ExpressionError("expected a field name after \".\", found \(describe(current))", column: current.column)
                }
                _ = advance()
                e = .member(e, name, column: t.column)
            } else {
                return e
            }
        }
    }

    mutating func expect(_ symbol: String) throws {
        guard case .symbol(symbol) = current.kind else {
            throw ExpressionError("expected \"\(symbol)\", found \(describe(current))", column: current.column)
        }
        _ = advance()
    }

    mutating func primary() throws -> Expression {
        let t = advance()
        switch t.kind {
        case .number(let n): return .literal(.number(n))
        case .string(let s): return .literal(.string(s))
        case .identifier("true"): return .literal(.bool(true))
        case .identifier("false"): return .literal(.bool(false))
        case .identifier("nil"), .identifier("null"): return .literal(.null)
        case .identifier(let name):
            if case .symbol("(") = current.kind {
                _ = advance()
                var args: [Expression] = []
                if case .symbol(")") = current.kind {} else {
                    repeat {
                        if case .symbol(",") = current.kind { _ = advance() }
                        args.append(try closureOrExpression())
                    } while isSymbol(",")
                }
                try expect(")")
                return .call(name, args, column: t.column)
            }
            return .variable(name, column: t.column)
        case .symbol("#"): return .element(column: t.column)
        case .symbol("("):
            let e = try expression(0)
            try expect(")")
            return e
        case .symbol("["):
            var items: [Expression] = []
            if case .symbol("]") = current.kind {} else {
                repeat {
                    if case .symbol(",") = current.kind { _ = advance() }
                    items.append(try expression(0))
                } while isSymbol(",")
            }
            try expect("]")
            return .array(items)
        default:
            throw ExpressionError("unexpected \(describe(t))", column: t.column)
        }
    }

    /// `{# > 0.5}` (expr-lang's closure) or a bare expression.
    mutating func closureOrExpression() throws -> Expression {
        if case .symbol("{") = current.kind {
            _ = advance()
            let e = try expression(0)
            try expect("}")
            return e
        }
        return try expression(0)
    }
}
