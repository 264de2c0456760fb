import KubeAPI

/// `report -o markdown`: the report for an issue or a post-mortem, with each
/// metric series as a table.
public enum ReportMarkdown {
    /// Rows of a metric table at most (a longer series is thinned evenly).
    static let maxRows = 120

    public static func render(_ report: RolloutReport) -> String {
        var out = "## Rollout \(cell(report.namespace))/\(cell(report.rollout)): update to revision \(report.revision.map(String.init) ?? "?"), \(report.outcome.rawValue)\n\n"
        var facts: [[String]] = [["Strategy", report.strategy],
                                 ["Before", report.before.map(ReportText.version) ?? "unknown (no older revision is left)"],
                                 ["After", ReportText.version(report.after)],
                                 ["Started", report.startedAt.map { $0.description } ?? "unknown"]]
        switch report.outcome {
        case .aborted, .promoted:
            let took = RolloutReport.span(report.startedAt, report.endedAt).map { " (after \(ReportText.duration($0)))" } ?? ""
            facts.append([report.outcome == .aborted ? "Aborted" : "Promoted", (report.endedAt.map { $0.description } ?? "time not recorded") + took])
        case .inProgress: facts.append(["Now", "still in progress at \(report.generatedAt)"])
        case .superseded: facts.append(["Ended", "superseded by a newer revision"])
        }
        if let t = report.trigger {
            facts.append(["Trigger", t.cause])
            if !t.values.isEmpty { facts.append(["Measured", t.values.map(code).joined(separator: ", ")]) }
            if let c = t.condition { facts.append(["Condition", code(c)]) }
            if let counts = ReportText.counts(t) { facts.append(["Counted", counts]) }
            if let m = t.message { facts.append(["Message", m]) }
        }
        if let traffic = report.traffic { facts.append(["Traffic", ReportText.trafficText(traffic, report)]) }
        if let config = report.configuration {
            if config.isEmpty { facts.append(["Configuration", "unchanged (tracked ConfigMaps and Secrets)"]) }
            for c in config { facts.append(["Configuration", RolloutReport.configText(c)]) }
        }
        out += table(["", ""], facts)

        out += "\n### Timeline\n\n"
        out += table(["Time", "After", "What"], report.timeline.map {
            [$0.time.map { ReportText.clock($0.microsecondsSinceEpoch / 1_000_000) } ?? "?", ReportText.offset($0.time, report.startedAt), ($0.warning ? "⚠ " : "") + $0.text]
        })

        if !report.runs.isEmpty {
            out += "\n### Analysis runs\n\n"
            var rows: [[String]] = []
            for run in report.runs {
                for m in run.metrics {
                    rows.append([run.name, run.phase, run.slot ?? "", m.name, m.phase, "\(m.successful)/\(m.failed)/\(m.errors)/\(m.count)",
                                 m.values.map(code).joined(separator: " "), m.condition.map(code) ?? ""])
                }
                if run.metrics.isEmpty { rows.append([run.name, run.phase, run.slot ?? "", "", "", "", "", ""]) }
            }
            out += table(["Run", "Status", "Slot", "Metric", "Metric status", "✔/✖/⚠/all", "Last values", "Condition"], rows)
        }

        if !report.series.isEmpty || !report.notes.isEmpty {
            out += "\n### Metrics over the update (Prometheus range query)\n\n"
            for note in report.notes { out += "> \(cell(note))\n\n" }
            for s in report.series {
                out += "**\(cell(s.metric))** `\(s.query.replacingOccurrences(of: "`", with: "'"))`: \(Sparkline.render(s.points.map(\.value)))"
                    + (s.seriesCount > 1 ? " (first of \(s.seriesCount) series)" : "") + "\n\n"
                let step = max(1, (s.points.count + maxRows - 1) / maxRows)
                let shown = stride(from: 0, to: s.points.count, by: step).compactMap { s.points.indices.contains($0) ? s.points[$0] : nil }
                if shown.isEmpty {
                    out += "No data in the window.\n\n"
                    continue
                }
                out += table(["Time", "After", "Value"], shown.map { p in
                    [ReportText.clock(p.time), ReportText.offset(MicroTime(microsecondsSinceEpoch: p.time.multipliedReportingOverflow(by: 1_000_000).partialValue), report.startedAt),
                     p.value.map(ReportText.number) ?? "NaN"]
                }) + "\n"
            }
        }

        out += "\n### Events\n\n"
        if report.events.isEmpty {
            out += "None left in the window (the API server keeps events for an hour by default).\n"
        } else {
            out += table(["Time", "Type", "Reason", "Message"], report.events.map {
                [$0.time.map { ReportText.clock($0.microsecondsSinceEpoch / 1_000_000) } ?? "?", $0.type, $0.reason, $0.message]
            })
        }
        while out.contains("\n\n\n") { out = out.replacingOccurrences(of: "\n\n\n", with: "\n\n") }
        return out
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        var out = "| " + header.map(cell).joined(separator: " | ") + " |\n"
        out += "|" + header.map { _ in " --- |" }.joined() + "\n"
        for row in rows { out += "| " + row.map(cell).joined(separator: " | ") + " |\n" }
        return out
    }

    /// Safe inside a table cell: pipes escaped, no line breaks, no HTML.
    static func cell(_ text: String) -> String {
        ReportText.clip(text, 2000).replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "<", with: "&lt;")
    }

    static func code(_ text: String) -> String { "`" + text.replacingOccurrences(of: "`", with: "'") + "`" }
}
