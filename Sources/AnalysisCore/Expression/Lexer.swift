/// Tokens of the condition language (the subset of expr-lang that Argo Rollouts
/// users write in successCondition and failureCondition).
struct Token: Equatable, Sendable {
    enum Kind: Equatable, Sendable {
        case number(Double)
        case string(String)
        case identifier(String)
        case symbol(String)   // operators and punctuation: ( ) [ ] { } , . # ! + - * / % < <= > >= == != && ||
        case end
    }

    var kind: Kind
    /// 1-based column where the token starts, for error messages.
    var column: Int
}

/// A parse error, with the column a person can look at.
public struct ExpressionError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    /// 1-based; nil for evaluation errors that have no single place.
    public var column: Int?

    public init(_ message: String, column: Int? = nil) {
        self.message = message
        self.column = column
    }

    public var description: String { column.map { "column \($0): \(message)" } ?? message }
}

enum Lexer {
    static func tokens(_ text: String) throws -> [Token] {
        let chars = Array(text)
        var out: [Token] = []
        var i = 0
        func peek(_ o: Int = 0) -> Character? { i + o < chars.count ? chars[i + o] : nil }
        while i < chars.count {
            let c = chars[i]
            let column = i + 1
            if c.isWhitespace { i += 1; continue }
            if c.isNumber || (c == "." && peek(1)?.isNumber == true) {
                var s = ""
                while let d = peek(), d.isNumber || d == "." || d == "e" || d == "E" || ((d == "-" || d == "+") && (s.last == "e" || s.last == "E")) {
                    s.append(d); i += 1
                }
                guard let v = Double(s) else { throw ExpressionError("\"\(s)\" is not a number", column: column) }
                out.append(Token(kind: .number(v), column: column))
                continue
            }
            if c == "\"" || c == "'" {
                var s = ""
                i += 1
                var closed = false
                while let d = peek() {
                    i += 1
                    if d == c { closed = true; break }
                    if d == "\\", let e = peek() {
                        i += 1
                        switch e {
                        case "n": s.append("\n")
                        case "t": s.append("\t")
                        default: s.append(e)
                        }
                    } else {
                        s.append(d)
                    }
                }
                guard closed else { throw ExpressionError("unterminated string", column: column) }
                out.append(Token(kind: .string(s), column: column))
                continue
            }
            if c.isLetter || c == "_" {
                var s = ""
                while let d = peek(), d.isLetter || d.isNumber || d == "_" { s.append(d); i += 1 }
                out.append(Token(kind: .identifier(s), column: column))
                continue
            }
            let two = peek(1).map { String([c, $0]) } ?? ""
            if ["<=", ">=", "==", "!=", "&&", "||"].contains(two) {
                out.append(Token(kind: .symbol(two), column: column))
                i += 2
                continue
            }
            if "()[]{},.#!+-*/%<>".contains(c) {
                out.append(Token(kind: .symbol(String(c)), column: column))
                i += 1
                continue
            }
            throw ExpressionError("unexpected character \"\(c)\"", column: column)
        }
        out.append(Token(kind: .end, column: chars.count + 1))
        return out
    }
}
