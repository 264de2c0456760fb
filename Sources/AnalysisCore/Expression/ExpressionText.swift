import KubeAPI

extension Expression {
    /// The expression written back out, so a message can suggest a rewrite of
    /// the user's own condition (`all(result, {# >= 0.95})`) rather than a
    /// generic one. Nested operators get parentheses; the meaning is kept, the
    /// user's spacing is not.
    public var text: String {
        switch self {
        case .literal(let v):
            switch v {
            case .string(let s): return "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
            case .number(let n) where n.isFinite && n != n.rounded(): return String(n)
            default: return ValueText.format(v)
            }
        case .array(let items):
            return "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .variable(let name, _):
            return name
        case .element:
            return "#"
        case .index(let base, let index, _):
            return Self.operand(base) + "[" + index.text + "]"
        case .member(let base, let name, _):
            return Self.operand(base) + "." + name
        case .unary(let op, let operand, _):
            return op + Self.operand(operand)
        case .binary(let op, let lhs, let rhs, _):
            return Self.operand(lhs) + " " + op + " " + Self.operand(rhs)
        case .call(let name, let args, _):
            let predicate = ["all", "any", "none", "filter", "map"].contains(name)
            return name + "(" + args.enumerated().map { predicate && $0.offset == 1 ? "{" + $0.element.text + "}" : $0.element.text }
                .joined(separator: ", ") + ")"
        }
    }

    /// An operand, in parentheses when it is itself an operator.
    static func operand(_ e: Expression) -> String {
        switch e {
        case .binary, .unary: return "(" + e.text + ")"
        default: return e.text
        }
    }
}
