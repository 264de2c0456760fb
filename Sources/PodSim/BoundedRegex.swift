/// The regular expressions route matches carry (Istio's RE2 `regex`, Gateway
/// API's `RegularExpression`), matched against the whole of a short string
/// without backtracking: a backtracking engine (Swift's `Regex` included) can
/// spin forever on a pattern such as `(.*){20}x`, and route objects are user
/// input. The pattern is parsed into a tree and matched by computing, per node
/// and start position, the set of end positions (memoized), under a step
/// budget. Supported: literals and escapes, `.`, classes `[a-z]` `[^…]`, `\d`
/// `\w` `\s` and their negations, groups `(…)` `(?:…)` `(?P<n>…)` `(?<n>…)`,
/// `|`, `* + ? {n} {n,} {n,m}` (lazy forms too), `^`, `$`, and a leading
/// `(?i)`. Anything else does not compile, and a pattern that does not
/// compile matches nothing.
struct BoundedRegex {
    private enum Node {
        case scalar((Unicode.Scalar) -> Bool)
        case start, end
        case concat([Int])
        case alternation([Int])
        case loop(Int, min: Int, max: Int?)
    }

    private var nodes: [Node] = []
    private var root = 0
    private var caseInsensitive = false

    static let maxPatternLength = 4096
    static let maxDepth = 64
    static let maxRepeat = 1000
    /// Steps one match may take before it gives up (no match).
    static let budget = 100_000

    init?(_ pattern: String) {
        var scalars = Array(pattern.unicodeScalars)
        guard scalars.count <= Self.maxPatternLength else { return nil }
        if scalars.starts(with: "(?i)".unicodeScalars) {
            caseInsensitive = true
            scalars.removeFirst(4)
        }
        var parser = Parser(scalars: scalars)
        guard let root = parser.alternation(depth: 0), parser.index == scalars.count else { return nil }
        self.nodes = parser.nodes
        self.root = root
    }

    /// Whether the whole of `text` matches.
    func wholeMatch(_ text: String) -> Bool {
        let input = Array(text.unicodeScalars)
        var matcher = Matcher(nodes: nodes, input: input, caseInsensitive: caseInsensitive)
        return matcher.ends(root, 0)?.contains(input.count) ?? false
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0
        var nodes: [Node] = []
        /// A counted repetition out of range (`a{2,1}`, `a{1001}`): an error, as in RE2.
        var badCount = false

        init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

        var peek: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        mutating func add(_ node: Node) -> Int {
            nodes.append(node)
            return nodes.count - 1
        }

        mutating func alternation(depth: Int) -> Int? {
            guard depth <= BoundedRegex.maxDepth else { return nil }
            var branches: [Int] = []
            while true {
                guard let branch = concatenation(depth: depth) else { return nil }
                branches.append(branch)
                guard peek == "|" else { break }
                index += 1
            }
            return branches.count == 1 ? branches[0] : add(.alternation(branches))
        }

        mutating func concatenation(depth: Int) -> Int? {
            var items: [Int] = []
            while let c = peek, c != "|", c != ")" {
                guard let atom = atom(depth: depth), let item = quantified(atom) else { return nil }
                items.append(item)
            }
            return items.count == 1 ? items[0] : add(.concat(items))
        }

        mutating func quantified(_ atom: Int) -> Int? {
            guard let c = peek else { return atom }
            var bounds: (Int, Int?)?
            switch c {
            case "*": bounds = (0, nil); index += 1
            case "+": bounds = (1, nil); index += 1
            case "?": bounds = (0, 1); index += 1
            case "{":
                let save = index
                if let b = counted() { bounds = b } else { index = save }
            default: break
            }
            if badCount { return nil }
            guard let (min, max) = bounds else { return atom }
            if peek == "?" { index += 1 }  // Lazy: the same set of whole matches.
            // A second quantifier (`a**`, possessive `a*+`) is not RE2: refuse it.
            if let next = peek, "*+?".unicodeScalars.contains(next) { return nil }
            if next(is: "{") { return nil }
            return add(.loop(atom, min: min, max: max))
        }

        func next(is s: Unicode.Scalar) -> Bool {
            peek == s && Parser.isCounted(scalars, from: index)
        }

        static func isCounted(_ scalars: [Unicode.Scalar], from: Int) -> Bool {
            var p = Parser(scalars: scalars)
            p.index = from
            return p.counted() != nil
        }

        /// `{n}`, `{n,}`, `{n,m}`; nil (and the caller reads `{` as a literal) otherwise.
        mutating func counted() -> (Int, Int?)? {
            guard peek == "{" else { return nil }
            index += 1
            guard let min = number() else { return nil }
            var max: Int? = min
            if peek == "," {
                index += 1
                max = peek == "}" ? nil : number()
                if max == nil, peek != "}" { return nil }
            }
            guard peek == "}" else { return nil }
            index += 1
            guard min <= BoundedRegex.maxRepeat, (max ?? min) <= BoundedRegex.maxRepeat, min <= (max ?? min) else {
                badCount = true
                return nil
            }
            return (min, max)
        }

        mutating func number() -> Int? {
            var value = 0, digits = 0
            while let c = peek, let d = Int(String(c)), c.isASCII {
                value = Swift.min(value * 10 + d, BoundedRegex.maxRepeat + 1)
                digits += 1
                index += 1
            }
            return digits > 0 ? value : nil
        }

        mutating func atom(depth: Int) -> Int? {
            guard let c = peek else { return nil }
            index += 1
            switch c {
            case "(":
                if peek == "?" {
                    index += 1
                    if peek == ":" {
                        index += 1
                    } else if peek == "P" || peek == "<" {
                        if peek == "P" { index += 1 }
                        guard peek == "<" else { return nil }
                        while let n = peek, n != ">" { index += 1 }
                        guard peek == ">" else { return nil }
                        index += 1
                    } else {
                        return nil
                    }
                }
                guard let inner = alternation(depth: depth + 1), peek == ")" else { return nil }
                index += 1
                return inner
            case ")", "*", "+", "?", "|":
                return nil
            case "[":
                return characterClass().map { add(.scalar($0)) }
            case ".":
                return add(.scalar { $0 != "\n" })
            case "^":
                return add(.start)
            case "$":
                return add(.end)
            case "\\":
                return escape(inClass: false).map { add(.scalar($0)) }
            default:
                return add(.scalar { $0 == c })
            }
        }

        /// After a backslash: a character or a class of them.
        mutating func escape(inClass: Bool) -> ((Unicode.Scalar) -> Bool)? {
            guard let c = peek else { return nil }
            index += 1
            switch c {
            case "d": return { Parser.digit($0) }
            case "D": return { !Parser.digit($0) }
            case "w": return { Parser.word($0) }
            case "W": return { !Parser.word($0) }
            case "s": return { Parser.space($0) }
            case "S": return { !Parser.space($0) }
            case "n": return { $0 == "\n" }
            case "t": return { $0 == "\t" }
            case "r": return { $0 == "\r" }
            default:
                // Only punctuation escapes to itself; `\b`, `\p{…}`, back-references are not supported.
                guard c.isASCII, !Parser.word(c), !Parser.space(c) else { return nil }
                return { $0 == c }
            }
        }

        static func digit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
        static func word(_ s: Unicode.Scalar) -> Bool { digit(s) || ("a"..."z").contains(s) || ("A"..."Z").contains(s) || s == "_" }
        static func space(_ s: Unicode.Scalar) -> Bool { " \t\n\r\u{0B}\u{0C}".unicodeScalars.contains(s) }

        /// After `[`: up to and including `]`.
        mutating func characterClass() -> ((Unicode.Scalar) -> Bool)? {
            var negated = false
            if peek == "^" {
                negated = true
                index += 1
            }
            var tests: [(Unicode.Scalar) -> Bool] = []
            var first = true
            while let c = peek, c != "]" || first {
                first = false
                index += 1
                var low: Unicode.Scalar = c
                if c == "\\" {
                    guard let e = peek else { return nil }
                    if "dDwWsS".unicodeScalars.contains(e) {
                        guard let test = escape(inClass: true) else { return nil }
                        tests.append(test)
                        continue
                    }
                    guard escape(inClass: true) != nil else { return nil }
                    low = e == "n" ? "\n" : e == "t" ? "\t" : e == "r" ? "\r" : e
                } else if c == "[" {
                    // POSIX classes ([:alpha:]) are not supported.
                    if peek == ":" { return nil }
                }
                if peek == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                    index += 1
                    guard var high = peek else { return nil }
                    index += 1
                    if high == "\\" {
                        guard let e = peek, escape(inClass: true) != nil, !"dDwWsS".unicodeScalars.contains(e) else { return nil }
                        high = e == "n" ? "\n" : e == "t" ? "\t" : e == "r" ? "\r" : e
                    }
                    guard low <= high else { return nil }
                    let range = low...high
                    tests.append { range.contains($0) }
                } else {
                    let single = low
                    tests.append { $0 == single }
                }
            }
            guard peek == "]" else { return nil }
            index += 1
            return { s in tests.contains { $0(s) } != negated }
        }
    }

    private struct Matcher {
        let nodes: [Node]
        let input: [Unicode.Scalar]
        /// Under `(?i)`, each input character's other case (itself when it has none, or more than one scalar).
        let otherCase: [Unicode.Scalar]?
        var memo: [Int: Set<Int>] = [:]
        var steps = 0

        init(nodes: [Node], input: [Unicode.Scalar], caseInsensitive: Bool) {
            self.nodes = nodes
            self.input = input
            otherCase = caseInsensitive ? input.map { s in
                let lower = String(s).lowercased().unicodeScalars, upper = String(s).uppercased().unicodeScalars
                if lower.count == 1, let l = lower.first, l != s { return l }
                if upper.count == 1, let u = upper.first { return u }
                return s
            } : nil
        }

        /// Every position a match of node `n` starting at `p` can end at; nil once the budget is spent.
        mutating func ends(_ n: Int, _ p: Int) -> Set<Int>? {
            let key = n &* (input.count + 1) &+ p
            if let known = memo[key] { return known }
            steps += 1
            guard steps <= BoundedRegex.budget else { return nil }
            var out = Set<Int>()
            switch nodes[n] {
            case .scalar(let test):
                if p < input.count, test(input[p]) || (otherCase.map { test($0[p]) } ?? false) { out.insert(p + 1) }
            case .start:
                if p == 0 { out.insert(p) }
            case .end:
                if p == input.count { out.insert(p) }
            case .concat(let items):
                var frontier: Set<Int> = [p]
                for item in items {
                    guard let next = step(item, from: frontier) else { return nil }
                    frontier = next
                    if frontier.isEmpty { break }
                }
                out = frontier
            case .alternation(let branches):
                for b in branches {
                    guard let e = ends(b, p) else { return nil }
                    out.formUnion(e)
                }
            case .loop(let body, let min, let max):
                // The mandatory repetitions: the frontier is a function of the
                // previous one, so once one repeats the rest is a cycle and is skipped.
                var frontier: Set<Int> = [p]
                var seen: [Set<Int>: Int] = [frontier: 0]
                var i = 0
                while i < min {
                    guard let next = step(body, from: frontier) else { return nil }
                    frontier = next
                    i += 1
                    if frontier.isEmpty { break }
                    if let earlier = seen[frontier] {
                        let period = i - earlier
                        let remaining = (min - i) % period
                        for _ in 0..<remaining {
                            guard let next = step(body, from: frontier) else { return nil }
                            frontier = next
                        }
                        i = min
                    } else {
                        seen[frontier] = i
                    }
                }
                // The optional ones: positions only accumulate, so this ends.
                out = frontier
                var count = min
                var newest = frontier
                while !newest.isEmpty, max.map({ count < $0 }) ?? true {
                    guard let next = step(body, from: newest) else { return nil }
                    newest = next.subtracting(out)
                    out.formUnion(next)
                    count += 1
                }
            }
            memo[key] = out
            return out
        }

        mutating func step(_ n: Int, from frontier: Set<Int>) -> Set<Int>? {
            var next = Set<Int>()
            for q in frontier {
                steps += 1
                guard steps <= BoundedRegex.budget, let e = ends(n, q) else { return nil }
                next.formUnion(e)
            }
            return next
        }
    }
}
