import KubeAPI

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

    /// The longest condition accepted, in characters.
    public static let maxLength = 4096
    /// The deepest expression accepted: nesting and operator chains alike, so
    /// neither parsing nor evaluating can run out of stack on a hostile condition.
    public static let maxDepth = 64

    /// Parses a condition; errors carry the column.
    public static func parse(_ text: String) throws -> Expression {
        guard text.count <= maxLength else {
            throw ExpressionError("the condition is \(text.count) characters long; the limit is \(maxLength)", column: maxLength + 1)
        }
        var p = Parser(tokens: try Lexer.tokens(text))
        let e = try p.expression(0)
        guard case .end = p.current.kind else { throw ExpressionError("unexpected \(p.describe(p.current))", column: p.current.column) }
        return e.expression
    }
}

/// A Pratt parser: precedence climbing over the binary operators. Every node
/// carries its depth, and one deeper than `Expression.maxDepth` is a parse
/// error at its column (the evaluator recurses once per level).
struct Parser {
    let tokens: [Token]
    var position = 0

    /// A parsed node and how deep it is.
    struct Node {
        var expression: Expression
        var depth: Int
    }

    init(tokens: [Token]) { self.tokens = tokens }

    var current: Token { tokens[min(position, tokens.count - 1)] }

    func node(_ e: Expression, _ children: [Node], column: Int) throws -> Node {
        let depth = (children.map(\.depth).max() ?? 0) + 1
        guard depth <= Expression.maxDepth else {
            throw ExpressionError("the condition is nested too deeply (more than \(Expression.maxDepth) levels)", column: column)
        }
        return Node(expression: e, depth: depth)
    }

    func isSymbol(_ symbol: String) -> Bool {
        if case .symbol(let s) = current.kind { return s == symbol }
        return false
    }

    mutating func advance() -> Token {
        let t = current
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

    /// How deep the parser itself is: a run of `(((…` or `!!!…` is refused
    /// before it can exhaust the stack, whatever the nodes' depths.
    var nesting = 0

    mutating func nest(_ column: Int) throws {
        nesting += 1
        guard nesting <= Expression.maxDepth else {
            throw ExpressionError("the condition is nested too deeply (more than \(Expression.maxDepth) levels)", column: column)
        }
    }

    mutating func expression(_ minPrecedence: Int) throws -> Node {
        try nest(current.column)
        defer { nesting -= 1 }
        var left = try unary()
        while let (op, precedence) = binaryOperator(), precedence > minPrecedence {
            let t = advance()
            let right = try expression(precedence)
            left = try node(.binary(op, left.expression, right.expression, column: t.column), [left, right], column: t.column)
        }
        return left
    }

    mutating func unary() throws -> Node {
        let t = current
        switch t.kind {
        case .symbol("!"), .identifier("not"):
            _ = advance()
            try nest(t.column)
            defer { nesting -= 1 }
            let operand = try unary()
            return try node(.unary("!", operand.expression, column: t.column), [operand], column: t.column)
        case .symbol("-"):
            _ = advance()
            try nest(t.column)
            defer { nesting -= 1 }
            let operand = try unary()
            return try node(.unary("-", operand.expression, column: t.column), [operand], column: t.column)
        default:
            return try postfix(try primary())
        }
    }

    mutating func postfix(_ base: Node) throws -> Node {
        var e = base
        while true {
            let t = current
            if case .symbol("[") = t.kind {
                _ = advance()
                let i = try expression(0)
                try expect("]")
                e = try node(.index(e.expression, i.expression, column: t.column), [e, i], column: t.column)
            } else if case .symbol(".") = t.kind {
                _ = advance()
                guard case .identifier(let name) = current.kind else {
                    throw ExpressionError("expected a field name after \".\", found \(describe(current))", column: current.column)
                }
                _ = advance()
                e = try node(.member(e.expression, name, column: t.column), [e], column: t.column)
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

    mutating func primary() throws -> Node {
        let t = advance()
        let leaf = { (e: Expression) in Node(expression: e, depth: 1) }
        switch t.kind {
        case .number(let n): return leaf(.literal(.number(n)))
        case .string(let s): return leaf(.literal(.string(s)))
        case .identifier("true"): return leaf(.literal(.bool(true)))
        case .identifier("false"): return leaf(.literal(.bool(false)))
        case .identifier("nil"), .identifier("null"): return leaf(.literal(.null))
        case .identifier(let name):
            if case .symbol("(") = current.kind {
                _ = advance()
                var args: [Node] = []
                if case .symbol(")") = current.kind {} else {
                    repeat {
                        if case .symbol(",") = current.kind { _ = advance() }
                        args.append(try closureOrExpression())
                    } while isSymbol(",")
                }
                try expect(")")
                if let problem = Functions.problem(name, arguments: args.count) { throw ExpressionError(problem, column: t.column) }
                return try node(.call(name, args.map(\.expression), column: t.column), args, column: t.column)
            }
            return leaf(.variable(name, column: t.column))
        case .symbol("#"): return leaf(.element(column: t.column))
        case .symbol("("):
            let e = try expression(0)
            try expect(")")
            return e
        case .symbol("["):
            var items: [Node] = []
            if case .symbol("]") = current.kind {} else {
                repeat {
                    if case .symbol(",") = current.kind { _ = advance() }
                    items.append(try expression(0))
                } while isSymbol(",")
            }
            try expect("]")
            return try node(.array(items.map(\.expression)), items, column: t.column)
        default:
            throw ExpressionError("unexpected \(describe(t))", column: t.column)
        }
    }

    /// `{# > 0.5}` (expr-lang's closure) or a bare expression.
    mutating func closureOrExpression() throws -> Node {
        if case .symbol("{") = current.kind {
            _ = advance()
            let e = try expression(0)
            try expect("}")
            return e
        }
        return try expression(0)
    }
}
