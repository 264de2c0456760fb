import AviaryAPI
import Kube

/// Per-object series, rendered from the caches at scrape time (as
/// kube-state-metrics does): they always match what the controller sees and
/// vanish with their object. Prometheus text format (version 0.0.4).
extension RolloutController {
    /// Rows are taken from the caches under their locks, a few fields each:
    /// copying every Rollout out of the cache for a scrape (then sorting and
    /// filtering the copies) was the largest transient allocation in a heap
    /// profile at 2,000 Rollouts, about 12 MB at each scrape.
    public func objectMetrics() -> String {
        ObjectMetrics.render(rollouts: rollouts.map(ObjectMetrics.RolloutRow.init), runs: analysisRuns.map(ObjectMetrics.RunRow.init))
    }
}

/// Renders the per-object families. Whatever users name their Rollouts,
/// AnalysisRuns and metrics, the text stays valid: every label value goes
/// through `MetricsLabel.value` (bounded, no control characters) and
/// `MetricsLabel.escape`; metric names and label names are ours, never
/// user-derived.
///
/// Bounds: one series per Rollout and per AnalysisRun in each family (their
/// number is bounded by what the API server holds), and at most
/// `maxMetricsPerRun` series per run in `aviary_analysis_run_metric_phase`
/// (a run's metrics list has no limit in the CRD; the first ones in its status
/// are exported, the rest are not).
public enum ObjectMetrics {
    /// At most this many of a run's metrics get an `aviary_analysis_run_metric_phase` series.
    public static let maxMetricsPerRun = 50

    /// Every family this renders, with its help text.
    public static let help: [String: String] = [
        "aviary_rollout_info": "One series per Rollout: its strategy and phase.",
        "aviary_rollout_info_replicas_desired": "Desired pods of each Rollout.",
        "aviary_rollout_info_replicas_updated": "Pods of each Rollout's current template.",
        "aviary_rollout_info_replicas_available": "Available pods of each Rollout.",
        "aviary_rollout_info_replicas_unavailable": "Desired pods of each Rollout that are not available.",
        "aviary_rollout_step": "The canary's current step index.",
        "aviary_rollout_weight": "The canary's traffic weight, in percent.",
        "aviary_analysis_run_info": "One series per AnalysisRun: its phase.",
        "aviary_analysis_run_metric_phase": "Each metric of each AnalysisRun (at most \(maxMetricsPerRun) per run): its phase.",
    ]

    /// What the Rollout families show of one Rollout.
    public struct RolloutRow: Sendable {
        var namespace: String, name: String
        var isCanary: Bool, isBlueGreen: Bool, phase: String
        var desired: Int, updated: Int, available: Int
        var step: Int, weight: Int

        public init(_ r: Rollout) {
            namespace = r.metadata.namespace ?? ""
            name = r.metadata.name ?? ""
            isCanary = r.spec.strategy?.canary != nil
            isBlueGreen = r.spec.strategy?.blueGreen != nil
            phase = r.status?.phase?.rawValue ?? "Progressing"
            desired = r.spec.effectiveReplicas
            updated = r.status?.updatedReplicas ?? 0
            available = r.status?.availableReplicas ?? 0
            step = r.status?.currentStepIndex ?? 0
            weight = r.status?.canary?.weights?.canary.weight ?? 0
        }
    }

    /// What the AnalysisRun families show of one run: its phase and its first metrics' phases.
    public struct RunRow: Sendable {
        var namespace: String, name: String, phase: String
        var metrics: [(name: String, phase: String)]

        public init(_ run: AnalysisRun) {
            namespace = run.metadata.namespace ?? ""
            name = run.metadata.name ?? ""
            phase = run.phase.rawValue
            metrics = (run.status?.metricResults ?? []).prefix(ObjectMetrics.maxMetricsPerRun).map { ($0.name, $0.phase.rawValue) }
        }
    }

    public static func render(rollouts: [Rollout], runs: [AnalysisRun]) -> String {
        render(rollouts: rollouts.map(RolloutRow.init), runs: runs.map(RunRow.init))
    }

    public static func render(rollouts: [RolloutRow], runs: [RunRow]) -> String {
        var out = ""
        func family(_ name: String) {
            out += "# HELP \(name) \(MetricsLabel.escapeHelp(help[name] ?? "An aviary metric."))\n# TYPE \(name) gauge\n"
        }
        func line(_ name: String, _ labels: [(String, String)], _ value: Int) {
            let text = labels.map { "\($0.0)=\"\(MetricsLabel.escape(MetricsLabel.value($0.1)))\"" }.joined(separator: ",")
            out += "\(name){\(text)} \(value)\n"
        }
        // Sorted for a stable scrape. Two objects whose labels come out the same (a cache never holds two with one
        // key, but names that differ only in what `MetricsLabel.value` replaces would) must not make a series
        // twice: the first wins. Bounded values never hold U+0000, so it separates the two parts.
        func unique<T>(_ objects: [T], _ key: (T) -> (String, String)) -> [T] {
            var seen = Set<String>()
            return objects.sorted { key($0) < key($1) }.filter {
                seen.insert(MetricsLabel.value(key($0).0) + "\u{0}" + MetricsLabel.value(key($0).1)).inserted
            }
        }
        let all = unique(rollouts) { ($0.namespace, $0.name) }
        func id(_ r: RolloutRow) -> [(String, String)] { [("namespace", r.namespace), ("name", r.name)] }
        family("aviary_rollout_info")
        for r in all {
            line("aviary_rollout_info", id(r) + [("strategy", r.isBlueGreen ? "blueGreen" : "canary"), ("phase", r.phase)], 1)
        }
        let replicas: [(String, (RolloutRow) -> Int)] = [
            ("desired", \.desired),
            ("updated", \.updated),
            ("available", \.available),
            ("unavailable", { max(0, $0.desired - $0.available) }),
        ]
        for (suffix, value) in replicas {
            family("aviary_rollout_info_replicas_\(suffix)")
            for r in all { line("aviary_rollout_info_replicas_\(suffix)", id(r), value(r)) }
        }
        family("aviary_rollout_step")
        for r in all where r.isCanary { line("aviary_rollout_step", id(r), r.step) }
        family("aviary_rollout_weight")
        for r in all where r.isCanary { line("aviary_rollout_weight", id(r), r.weight) }

        let sortedRuns = unique(runs) { ($0.namespace, $0.name) }
        family("aviary_analysis_run_info")
        for run in sortedRuns {
            line("aviary_analysis_run_info", [("namespace", run.namespace), ("name", run.name), ("phase", run.phase)], 1)
        }
        family("aviary_analysis_run_metric_phase")
        for run in sortedRuns {
            // Two metrics whose names are equal once bounded would make one series twice: the first wins.
            var metrics = Set<String>()
            for m in run.metrics {
                let metric = MetricsLabel.metricName(m.name)
                guard metrics.insert(metric).inserted else { continue }
                line("aviary_analysis_run_metric_phase", [("namespace", run.namespace), ("name", run.name),
                                                          ("metric", metric), ("phase", m.phase)], 1)
            }
        }
        return out
    }
}

/// Label values and help text for the Prometheus text format.
public enum MetricsLabel {
    /// The longest label value exported, in Unicode scalars: Kubernetes names
    /// are at most 253 characters, so an object's name is never cut.
    public static let maxLength = 253
    /// The longest metric name exported as a `metric` label (metric names in an
    /// AnalysisRun are free text, with no limit in the CRD).
    public static let maxMetricNameLength = 128

    /// A label value as exported: at most `limit` Unicode scalars (so it is
    /// always whole, valid UTF-8), control characters other than a newline
    /// replaced by U+FFFD. Not escaped yet: `escape` does that when the text is
    /// written (swift-prometheus escapes the values it is given itself).
    public static func value(_ raw: String, limit: Int = maxLength) -> String {
        var scalars = String.UnicodeScalarView()
        for s in raw.unicodeScalars.prefix(max(0, limit)) {
            let control = (s.value < 0x20 && s != "\n") || (0x7F...0x9F).contains(s.value)
            scalars.append(control ? "\u{FFFD}" : s)
        }
        return String(scalars)
    }

    /// A metric name from an AnalysisRun as a `metric` label value: at most `maxMetricNameLength` scalars.
    public static func metricName(_ raw: String) -> String { value(raw, limit: maxMetricNameLength) }

    /// Escapes a label value as the text format requires: backslash, double quote and newline.
    public static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for c in value.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Escapes help text: backslash and newline (a double quote stays as it is there).
    public static func escapeHelp(_ text: String) -> String {
        var out = ""
        for c in text.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
