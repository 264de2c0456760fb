import AviaryAPI

/// A verdict that cannot be used as written: the column (1-based, when there
/// is one place to point at) and what is wrong.
public struct VerdictError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public var column: Int?

    public init(_ message: String, column: Int? = nil) {
        self.message = message
        self.column = column
    }

    public var description: String { "verdict: " + (column.map { "column \($0): \(message)" } ?? message) }
}

/// The verdict language: metric names, `&&`, `||`, `!` and parentheses.
/// Metric names carry dashes (`success-rate`), which the condition language
/// would read as a minus, hence a parser of its own. A name is any run of
/// characters other than white space and `&|!()`. Precedence: `!` binds
/// tightest, then `&&`, then `||`. Chains are kept flat and nesting (each
/// `(` and each `!`) is limited, so no input recurses deeply.
enum VerdictParser {
    enum Token: Equatable {
        case name(String), and, or, not, open, close
    }

    static func tokens(_ text: String) throws(VerdictError) -> [(Token, Int)] {
        let chars = Array(text)
        var out: [(Token, Int)] = []
        var i = 0
        let special: Set<Character> = ["&", "|", "!", "(", ")"]
        while i < chars.count {
            let c = chars[i], column = i + 1
            if c.isWhitespace { i += 1; continue }
            switch c {
            case "(": out.append((.open, column)); i += 1
            case ")": out.append((.close, column)); i += 1
            case "!": out.append((.not, column)); i += 1
            case "&", "|":
                guard i + 1 < chars.count, chars[i + 1] == c else {
                    throw VerdictError("a single \"\(c)\": write && (both) or || (either)", column: column)
                }
                out.append((c == "&" ? .and : .or, column))
                i += 2
            default:
                var j = i
                while j < chars.count, !chars[j].isWhitespace, !special.contains(chars[j]) { j += 1 }
                out.append((.name(String(chars[i..<j])), column))
                i = j
            }
        }
        return out
    }

    /// Parses `text`; names are checked by the caller, which knows the metrics.
    static func parse(_ text: String) throws(VerdictError) -> (Verdict.Node, [(String, Int)]) {
        guard text.count <= Verdict.maxLength else {
            throw VerdictError("the verdict is \(text.count) characters long; the limit is \(Verdict.maxLength)")
        }
        var p = State(tokens: try tokens(text), end: text.count + 1)
        guard !p.tokens.isEmpty else { throw VerdictError("the verdict is empty; name the metrics, e.g. success-rate && latency") }
        let node = try p.any(depth: 0)
        if p.position < p.tokens.count {
            let (token, column) = p.tokens[p.position]
            throw VerdictError(token == .close ? "\")\" without a matching \"(\"" : "expected && or || before \(describe(token))", column: column)
        }
        return (node, p.names)
    }

    static func describe(_ t: Token) -> String {
        switch t {
        case .name(let n): return "\"\(n)\""
        case .and: return "&&"
        case .or: return "||"
        case .not: return "!"
        case .open: return "\"(\""
        case .close: return "\")\""
        }
    }

    struct State {
        var tokens: [(Token, Int)]
        /// The column just past the text, for "unexpected end".
        var end: Int
        var position = 0
        var names: [(String, Int)] = []

        var peek: Token? { position < tokens.count ? tokens[position].0 : nil }
        var column: Int { position < tokens.count ? tokens[position].1 : end }

        mutating func any(depth: Int) throws(VerdictError) -> Verdict.Node {
            var parts = [try all(depth: depth)]
            while peek == .or {
                position += 1
                parts.append(try all(depth: depth))
            }
            return parts.count == 1 ? parts[0] : .any(parts)
        }

        mutating func all(depth: Int) throws(VerdictError) -> Verdict.Node {
            var parts = [try unary(depth: depth)]
            while peek == .and {
                position += 1
                parts.append(try unary(depth: depth))
            }
            return parts.count == 1 ? parts[0] : .all(parts)
        }

        mutating func unary(depth: Int) throws(VerdictError) -> Verdict.Node {
            guard depth < Verdict.maxDepth else {
                throw VerdictError("the verdict is nested too deeply (more than \(Verdict.maxDepth) levels)", column: column)
            }
            guard let token = peek else { throw VerdictError("unexpected end of the verdict: a metric name is missing", column: end) }
            let at = column
            switch token {
            case .not:
                position += 1
                return .not(try unary(depth: depth + 1))
            case .open:
                position += 1
                let inner = try any(depth: depth + 1)
                guard peek == .close else { throw VerdictError("\"(\" at column \(at) is not closed", column: column) }
                position += 1
                return inner
            case .name(let n):
                position += 1
                names.append((n, at))
                return .metric(n)
            case .and, .or, .close:
                throw VerdictError("expected a metric name, found \(VerdictParser.describe(token))", column: at)
            }
        }
    }
}
