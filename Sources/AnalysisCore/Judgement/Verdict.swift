import AviaryAPI

/// A judgement across metrics (an Aviary extension: `spec.verdict`), e.g.
/// `success-rate && (latency || latency-relaxed)`. Without one, a run takes
/// its worst metric (Argo's rule); with one, the verdict alone decides.
///
/// Each metric it names reads, from the metric's phase:
/// - Successful → true; Failed or Error → false;
/// - Pending or Running → not yet known; Inconclusive → never known.
///
/// It is evaluated in three-valued logic (`a || b` is true once either is
/// true, even while the other runs), so a run ends as soon as its verdict is
/// decided: true → Successful; false → Failed (Error when every metric that
/// decided is in Error); undecided once every metric it still waits on has
/// finished → Inconclusive. Metrics it does not name are measured and shown
/// but never decide, like dry-run ones; a dry-run metric may not be named.
public struct Verdict: Sendable, Equatable {
    /// The text as written, for messages.
    public var text: String
    var root: Node
    /// The metric names it mentions, each once, in order.
    public var metrics: [String]

    /// The longest verdict read, and how deeply `(` and `!` may nest.
    public static let maxLength = 4096
    public static let maxDepth = 64

    indirect enum Node: Sendable, Equatable {
        case metric(String)
        case not(Node)
        case all([Node])
        case any([Node])
    }

    /// Reads a verdict over these metrics. Every name must be one of them
    /// and none of `dryRun`; all unknown names are reported at once.
    public init(_ text: String, metrics known: [String], dryRun: Set<String> = []) throws(VerdictError) {
        let (root, names) = try VerdictParser.parse(text)
        let unknown = names.filter { !known.contains($0.0) }
        if let first = unknown.first {
            // One name: the column leads the message; several: each says where it is.
            let list = unknown.count == 1 ? "\"\(first.0)\"" : Self.some(unknown.map { "\"\($0.0)\" (column \($0.1))" })
            throw VerdictError("unknown metric\(unknown.count == 1 ? "" : "s") \(list); the metrics are \(known.isEmpty ? "none" : Self.some(known))",
                               column: unknown.count == 1 ? first.1 : nil)
        }
        if let dry = names.first(where: { dryRun.contains($0.0) }) {
            throw VerdictError("metric \"\(dry.0)\" is a dry run, so it cannot decide; drop it from dryRun or from the verdict", column: dry.1)
        }
        self.text = text
        self.root = root
        var seen: [String] = []
        for (n, _) in names where !seen.contains(n) { seen.append(n) }
        metrics = seen
    }

    /// The first ten of a list, so a hostile verdict or template cannot make a message huge.
    static func some(_ items: [String]) -> String {
        items.prefix(10).joined(separator: ", ") + (items.count > 10 ? " and \(items.count - 10) more" : "")
    }

    /// A spec's verdict, or nil without one (an empty one counts as none).
    public static func of(_ spec: AnalysisSpec) throws(VerdictError) -> Verdict? {
        guard let text = spec.verdict, !text.isEmpty else { return nil }
        return try Verdict(text, metrics: spec.metrics.map(\.name), dryRun: Set(spec.metrics.map(\.name).filter(spec.isDryRun)))
    }

    /// Whether a metric name can be written in a verdict as it is.
    public static func canName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains { $0.isWhitespace || "&|!()".contains($0) }
    }

    /// The names a verdict mentions, or nil when it does not parse (only its syntax is checked).
    public static func names(in text: String) throws(VerdictError) -> [String] {
        try VerdictParser.parse(text).1.map(\.0)
    }

    /// One verdict for a run built from several templates (or one that
    /// includes others): every template's verdict must hold, and so must
    /// each metric of a template without one that no verdict names (those
    /// passed in are the ones that may decide: not dry runs). Nil when no
    /// template has a verdict.
    public static func combined(_ parts: [(verdict: String?, metrics: [String])]) -> String? {
        let verdicts = parts.compactMap { $0.verdict }.filter { !$0.isEmpty }
        guard !verdicts.isEmpty else { return nil }
        let named = Set(verdicts.flatMap { (try? names(in: $0)) ?? [] })
        let rest = parts.filter { ($0.verdict ?? "").isEmpty }.flatMap(\.metrics).filter { !named.contains($0) }
        let terms = verdicts.count + rest.count == 1 ? verdicts : verdicts.map { "(\($0))" } + rest
        return terms.joined(separator: " && ")
    }

    public enum Truth: Sendable, Equatable { case yes, no, unknown }

    /// What the verdict says now, and the metrics that made it so (for an
    /// unknown one: the metrics it still depends on).
    public struct Outcome: Sendable, Equatable {
        public var truth: Truth
        public var deciders: [String]
    }

    /// A metric's truth value from its phase (nil: not started).
    public static func truth(_ phase: AnalysisPhase?) -> Truth {
        switch phase {
        case .Successful?: return .yes
        case .Failed?, .Error?: return .no
        case .Inconclusive?, .Running?, .Pending?, nil: return .unknown
        }
    }

    public func evaluate(_ phase: (String) -> AnalysisPhase?) -> Outcome {
        Self.evaluate(root, phase)
    }

    static func evaluate(_ node: Node, _ phase: (String) -> AnalysisPhase?) -> Outcome {
        func union(_ outcomes: [Outcome]) -> [String] {
            var out: [String] = []
            for name in outcomes.flatMap(\.deciders) where !out.contains(name) { out.append(name) }
            return out
        }
        switch node {
        case .metric(let name):
            return Outcome(truth: truth(phase(name)), deciders: [name])
        case .not(let inner):
            var o = evaluate(inner, phase)
            o.truth = o.truth == .yes ? .no : o.truth == .no ? .yes : .unknown
            return o
        case .all(let parts), .any(let parts):
            let isAll: Bool = { if case .all = node { return true } else { return false } }()
            let outcomes = parts.map { evaluate($0, phase) }
            let short: Truth = isAll ? .no : .yes
            if outcomes.contains(where: { $0.truth == short }) {
                return Outcome(truth: short, deciders: union(outcomes.filter { $0.truth == short }))
            }
            if outcomes.allSatisfy({ $0.truth != .unknown }) {
                return Outcome(truth: isAll ? .yes : .no, deciders: union(outcomes))
            }
            return Outcome(truth: .unknown, deciders: union(outcomes.filter { $0.truth == .unknown }))
        }
    }
}

extension Verdict {
    /// The run's phase and message by this verdict, or nil while it waits on
    /// a metric still measuring. The message names the metrics that decided,
    /// and (when the run passed) those that failed without deciding it.
    public func decide(_ results: [MetricResult]) -> (phase: AnalysisPhase, message: String)? {
        let phase: (String) -> AnalysisPhase? = { name in results.first { $0.name == name }?.phase }
        let outcome = evaluate(phase)
        func said(_ name: String) -> String {
            guard let r = results.first(where: { $0.name == name }) else { return "\(name) not measured" }
            if let m = r.message, r.phase != .Successful { return "\(name) \(r.phase.rawValue): \(m)" }
            return "\(name) \(r.phase.rawValue)"
        }
        let deciders = outcome.deciders.map(said).joined(separator: "; ")
        switch outcome.truth {
        case .yes:
            let overruled = metrics.filter { !outcome.deciders.contains($0) && Self.truth(phase($0)) == .no }
            let aside = overruled.isEmpty ? "" : "; not deciding: " + overruled.map(said).joined(separator: "; ")
            return (.Successful, "verdict \"\(text)\" is true, decided by \(deciders)\(aside)")
        case .no:
            let onlyErrors = outcome.deciders.allSatisfy { phase($0) == .Error }
            return (onlyErrors ? .Error : .Failed, "verdict \"\(text)\" is false, decided by \(deciders)")
        case .unknown:
            if outcome.deciders.contains(where: { !(phase($0)?.isTerminal ?? false) }) { return nil }
            return (.Inconclusive, "verdict \"\(text)\" is undecided: \(deciders)")
        }
    }
}
