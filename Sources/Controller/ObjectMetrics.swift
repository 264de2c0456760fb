import AviaryAPI

/// Per-object series, rendered from the caches at scrape time (as
/// kube-state-metrics does): they always match what the controller sees and
/// vanish with their object. Prometheus text format.
extension RolloutController {
    public func objectMetrics() -> String {
        var out = ""
        func family(_ name: String, _ help: String) { out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n" }
        func line(_ name: String, _ labels: [(String, String)], _ value: Int) {
            let text = labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",")
            out += "\(name){\(text)} \(value)\n"
        }
        let all = rollouts.all().sorted { ($0.metadata.namespace ?? "", $0.metadata.name ?? "") < ($1.metadata.namespace ?? "", $1.metadata.name ?? "") }
        func id(_ r: Rollout) -> [(String, String)] { [("namespace", r.metadata.namespace ?? ""), ("name", r.metadata.name ?? "")] }
        family("aviary_rollout_info", "One series per Rollout: its strategy and phase.")
        for r in all {
            let strategy = r.spec.strategy?.blueGreen != nil ? "blueGreen" : "canary"
            line("aviary_rollout_info", id(r) + [("strategy", strategy), ("phase", r.status?.phase?.rawValue ?? "Progressing")], 1)
        }
        let replicas: [(String, String, (Rollout) -> Int)] = [
            ("desired", "Desired pods.", { $0.spec.effectiveReplicas }),
            ("updated", "Pods of the current template.", { $0.status?.updatedReplicas ?? 0 }),
            ("available", "Available pods.", { $0.status?.availableReplicas ?? 0 }),
            ("unavailable", "Desired pods not available.", { max(0, $0.spec.effectiveReplicas - ($0.status?.availableReplicas ?? 0)) }),
        ]
        for (suffix, help, value) in replicas {
            family("aviary_rollout_info_replicas_\(suffix)", help)
            for r in all { line("aviary_rollout_info_replicas_\(suffix)", id(r), value(r)) }
        }
        family("aviary_rollout_step", "The canary's current step index.")
        for r in all where r.spec.strategy?.canary != nil { line("aviary_rollout_step", id(r), r.status?.currentStepIndex ?? 0) }
        family("aviary_rollout_weight", "The canary's traffic weight.")
        for r in all where r.spec.strategy?.canary != nil { line("aviary_rollout_weight", id(r), r.status?.canary?.weights?.canary.weight ?? 0) }

        let runs = analysisRuns.all().sorted { ($0.metadata.namespace ?? "", $0.metadata.name ?? "") < ($1.metadata.namespace ?? "", $1.metadata.name ?? "") }
        family("aviary_analysis_run_info", "One series per AnalysisRun: its phase.")
        for run in runs {
            line("aviary_analysis_run_info", [("namespace", run.metadata.namespace ?? ""), ("name", run.metadata.name ?? ""), ("phase", run.phase.rawValue)], 1)
        }
        family("aviary_analysis_run_metric_phase", "Each metric of each AnalysisRun: its phase.")
        for run in runs {
            for m in run.status?.metricResults ?? [] {
                line("aviary_analysis_run_metric_phase", [("namespace", run.metadata.namespace ?? ""), ("name", run.metadata.name ?? ""),
                                                          ("metric", m.name), ("phase", m.phase.rawValue)], 1)
            }
        }
        return out
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}
