import Controller

/// The `/metrics` body in the Prometheus text format (version 0.0.4), valid
/// whatever users name their objects and metrics, and accepted by
/// `promtool check metrics`.
///
/// swift-prometheus' swift-metrics bridge registers families without help
/// text, so it writes `# TYPE` lines with no `# HELP`. `addingHelp` puts a
/// `# HELP` line before each `# TYPE` line that lacks one, from a table of
/// ours, or a generic text for a family the table does not know, so no
/// family is ever without help. Label values need nothing more: swift-prometheus
/// escapes backslash, double quote and newline in the values it is given, and
/// the only user-chosen one (`metric`) is bounded before it gets there.
public enum MetricsText {
    /// Help for a family no table names.
    public static let fallbackHelp = "An aviary controller metric."

    /// Every family's help: the swift-metrics ones and the per-object ones.
    public static var help: [String: String] {
        ControllerMetrics.help.merging(ObjectMetrics.help) { first, _ in first }
    }

    /// The registry's text with help added, then the per-object families.
    public static func body(registry: String, objects: String) -> String {
        var text = addingHelp(to: registry)
        if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
        return text + objects
    }

    /// Inserts `# HELP name text` before every `# TYPE name …` line not already
    /// preceded by a `# HELP` line for the same name.
    public static func addingHelp(to text: String, help: [String: String] = MetricsText.help) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 64 * help.count)
        var previous: Substring = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("# TYPE ") {
                let name = line.dropFirst("# TYPE ".count).prefix { $0 != " " }
                if !previous.hasPrefix("# HELP \(name) ") {
                    out += "# HELP \(name) \(MetricsLabel.escapeHelp(help[String(name)] ?? fallbackHelp))\n"
                }
            }
            out += line
            out += "\n"
            previous = line
        }
        // split keeps a last, empty piece after the final newline: do not add a second one.
        if text.hasSuffix("\n") || text.isEmpty { out.removeLast() }
        return out
    }
}
