import Metrics

/// The controller's own metrics, through swift-metrics (the process picks the
/// backend: Prometheus in `aviary controller`). Names follow the incumbent's
/// meanings with our prefix. Per-object series (rollout info, replica counts,
/// analysis phases) are not kept here: `ObjectMetrics` renders them from the
/// caches at scrape time, so a deleted Rollout leaves no stale series.
enum ControllerMetrics {
    static let reconcile = Timer(label: "aviary_rollout_reconcile", preferredDisplayUnit: .seconds)
    static let reconcileErrors = Counter(label: "aviary_rollout_reconcile_error")
    static let analysisReconcile = Timer(label: "aviary_analysis_run_reconcile", preferredDisplayUnit: .seconds)
    static let analysisReconcileErrors = Counter(label: "aviary_analysis_run_reconcile_error")

    /// One measurement taken, by metric name and phase.
    static func measurement(metric: String, phase: String) {
        Counter(label: "aviary_analysis_run_measurements_total", dimensions: [("metric", metric), ("phase", phase)]).increment()
    }

}

extension RolloutController {
    /// One API request, by verb and response code (0: no response): the KubeClient's observer.
    public static func recordAPIRequest(verb: String, code: Int) {
        Counter(label: "aviary_k8s_request_total", dimensions: [("verb", verb), ("code", String(code))]).increment()
    }
}

extension ControllerMetrics {
    struct Queue {
        let adds: Counter
        let retries: Counter
        let depth: Gauge

        init(_ name: String) {
            adds = Counter(label: "aviary_workqueue_adds_total", dimensions: [("name", name)])
            retries = Counter(label: "aviary_workqueue_retries_total", dimensions: [("name", name)])
            depth = Gauge(label: "aviary_workqueue_depth", dimensions: [("name", name)])
        }
    }
}
