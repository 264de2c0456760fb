import Foundation
import KubeAPI

/// `report -o text`: the report for a terminal, with a sparkline per metric series.
public enum ReportText {
    public static func render(_ report: RolloutReport) -> String {
        var out = ""
        func field(_ k: String, _ v: String) { out += ((k + ":").padding(toLength: 13, withPad: " ", startingAt: 0) + v).trimmingTrailingSpaces() + "\n" }
        out += "Rollout \(report.namespace)/\(report.rollout): update to revision \(report.revision.map(String.init) ?? "?"), \(report.outcome.rawValue)\n"
        field("Strategy", report.strategy)
        field("Before", report.before.map(version) ?? "unknown (no older revision is left)")
        field("After", version(report.after))
        field("Started", report.startedAt.map { $0.description } ?? "unknown")
        switch report.outcome {
        case .aborted, .promoted:
            let took = RolloutReport.span(report.startedAt, report.endedAt).map { " (after \(duration($0)))" } ?? ""
            field(report.outcome == .aborted ? "Aborted" : "Promoted", (report.endedAt.map { $0.description } ?? "time not recorded") + took)
        case .inProgress:
            field("Now", "still in progress at \(report.generatedAt)")
        case .superseded:
            field("Ended", "superseded by a newer revision")
        }
        if let t = report.trigger {
            field("Trigger", t.cause)
            if !t.values.isEmpty { field("  measured", t.values.joined(separator: ", ")) }
            if let c = t.condition { field("  condition", c) }
            if let counts = counts(t) { field("  counted", counts) }
            if let m = t.message { field("  message", m) }
        }
        if let traffic = report.traffic { field("Traffic", trafficText(traffic, report)) }
        if let config = report.configuration {
            // Key names only: values (and anything of a Secret's) are `kubectl aviary diff`'s.
            out += "\nConfiguration (tracked ConfigMaps and Secrets, key names only)\n"
            if config.isEmpty { out += "  unchanged from revision \(report.before?.revision.map(String.init) ?? "?")\n" }
            for c in config { out += "  \(RolloutReport.configText(c))\n" }
        }

        out += "\nTimeline\n"
        var rows = [["TIME", "AFTER", "WHAT"]]
        for e in report.timeline {
            rows.append([e.time.map { clock($0.microsecondsSinceEpoch / 1_000_000) } ?? "?", offset(e.time, report.startedAt), (e.warning ? "⚠ " : "") + e.text])
        }
        out += indent(Table.render(rows))

        if !report.runs.isEmpty {
            out += "\nAnalysis runs\n"
            var runRows = [["NAME", "STATUS", "SLOT", "STARTED", "DONE", "METRICS"]]
            for run in report.runs {
                let metrics = run.metrics.map { m in
                    "\(m.name) ✔\(m.successful) ✖\(m.failed)\(m.errors > 0 ? " ⚠\(m.errors)" : "")" + (m.values.last.map { " last \($0)" } ?? "")
                }.joined(separator: "; ")
                runRows.append([run.name, glyph(run.phase) + " " + run.phase, run.slot ?? "", run.startedAt.map { clock($0.secondsSinceEpoch) } ?? "",
                                run.completedAt.map { clock($0.secondsSinceEpoch) } ?? "", metrics])
            }
            out += indent(Table.render(runRows))
        }

        if !report.series.isEmpty || !report.notes.isEmpty {
            out += "\nMetrics over the update (Prometheus range query)\n"
            let width = report.series.map(\.metric.count).max() ?? 0
            for s in report.series {
                let values = s.points.map(\.value)
                var line = "  " + s.metric.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + Sparkline.render(values)
                let finite = s.finiteValues
                if let lo = finite.min(), let hi = finite.max() {
                    line += "  min \(number(lo))  max \(number(hi))"
                }
                if let last = finite.last { line += "  last \(number(last))" }
                line += "  (\(s.points.count) points, every \(duration(Int64(s.step))))"
                if s.points.isEmpty { line += "  no data in the window" }
                out += line.trimmingTrailingSpaces() + "\n"
                out += "  " + String(repeating: " ", count: width) + "  query: \(s.query)" + (s.seriesCount > 1 ? " (first of \(s.seriesCount) series)" : "") + "\n"
            }
            for note in report.notes { out += "  \(note)\n" }
        }

        out += "\nEvents\n"
        if report.events.isEmpty {
            out += "  none left in the window (the API server keeps events for an hour by default)\n"
        } else {
            var eventRows = [["TIME", "TYPE", "REASON", "MESSAGE"]]
            for e in report.events {
                eventRows.append([e.time.map { clock($0.microsecondsSinceEpoch / 1_000_000) } ?? "?", e.type, e.reason, e.message])
            }
            out += indent(Table.render(eventRows))
        }
        return out
    }

    // MARK: shared wording (text, markdown and the brief summary)

    static func version(_ v: RolloutReport.Version) -> String {
        "revision \(v.revision.map(String.init) ?? "?"): \(RolloutReport.imagesText(v))" + (v.replicaSet.map { " (ReplicaSet \($0))" } ?? "")
    }

    static func counts(_ t: RolloutReport.Trigger) -> String? {
        var parts: [String] = []
        if let f = t.failed, t.phase != "Error" { parts.append("\(f) failed") }
        if let e = t.errors, e > 0 || t.phase == "Error" { parts.append("\(e) \(t.phase == "Error" ? "consecutive errors" : "errors")") }
        guard !parts.isEmpty else { return nil }
        var text = parts.joined(separator: ", ")
        if let n = t.measurements { text += " of \(n) measurements" }
        if let l = t.limit { text += " (\(l))" }
        return text
    }

    static func trafficText(_ t: RolloutReport.Traffic, _ report: RolloutReport) -> String {
        let who = report.after.images.first ?? "the new version"
        guard t.maxWeight > 0 else {
            return report.strategy == "BlueGreen" ? "\(who) had no production traffic (blue-green preview)" : "\(who) reached no traffic weight"
        }
        let howLong = t.seconds.map { " for \(duration($0))" } ?? ""
        let end = report.outcome == .aborted ? (howLong.isEmpty ? "" : " until traffic was back on stable") : " so far"
        return "\(who) had up to \(t.maxWeight)% of the traffic\(howLong)\(end)"
    }

    static func glyph(_ phase: String) -> String {
        switch phase {
        case "Successful": return "✔"
        case "Failed": return "✖"
        case "Error": return "⚠"
        case "Inconclusive": return "?"
        default: return "◌"
        }
    }

    /// "HH:MM:SS" (UTC).
    static func clock(_ seconds: Int64) -> String {
        String(KubeTime(secondsSinceEpoch: seconds).description.dropFirst(11).prefix(8))
    }

    static func offset(_ t: MicroTime?, _ start: KubeTime?) -> String {
        guard let t, let start else { return "" }
        let (d, overflow) = (t.microsecondsSinceEpoch / 1_000_000).subtractingReportingOverflow(start.secondsSinceEpoch)
        if overflow { return "" }
        return d < 0 ? "-" + duration(d == Int64.min ? Int64.max : -d) : "+" + duration(d)
    }

    /// 45s, 2m05s, 1h02m, 3d04h.
    public static func duration(_ s: Int64) -> String {
        let s = max(0, s)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(pad2(s % 60))s" }
        if s < 86_400 { return "\(s / 3600)h\(pad2(s % 3600 / 60))m" }
        return "\(s / 86_400)d\(pad2(s % 86_400 / 3600))h"
    }

    static func pad2(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }

    /// A measured number, shortly: integers as integers, else 4 significant digits.
    static func number(_ v: Double) -> String {
        guard v.isFinite else { return v.isNaN ? "NaN" : v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(format: "%.4g", v)
    }

    static func indent(_ table: String) -> String {
        table.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "  " + $0 }.joined(separator: "\n")
    }

    /// One line of at most `limit` characters: control characters become spaces.
    public static func clip(_ text: String, _ limit: Int) -> String {
        var out = ""
        var n = 0
        for ch in text {
            if n >= limit { return out + "…" }
            out.append(ch.unicodeScalars.contains { $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" } ? " " : ch)
            n += 1
        }
        return out
    }
}

extension RolloutReport {
    /// `-o json`: the report itself, keys sorted, indented.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
