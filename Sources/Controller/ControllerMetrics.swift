import Metrics
import Kube
import Synchronization

/// The controller's own metrics, through swift-metrics (the process picks the
/// backend: Prometheus in `aviary controller`). Names follow the incumbent's
/// meanings with our prefix; counters end in `_total`. Per-object series
/// (rollout info, replica counts, analysis phases) are not kept here:
/// `ObjectMetrics` renders them from the caches at scrape time, so a deleted
/// Rollout leaves no stale series.
///
/// Every name here is ours. The one label value users choose is the `metric`
/// of `aviary_analysis_run_measurements_total`: it is bounded (see
/// `measurementMetricLabels`).
public enum ControllerMetrics {
    static let reconcile = Timer(label: "aviary_rollout_reconcile", preferredDisplayUnit: .seconds)
    static let reconcileErrors = Counter(label: "aviary_rollout_reconcile_errors_total")
    static let analysisReconcile = Timer(label: "aviary_analysis_run_reconcile", preferredDisplayUnit: .seconds)
    static let analysisReconcileErrors = Counter(label: "aviary_analysis_run_reconcile_errors_total")
    static let notificationDelivery = Timer(label: "aviary_notification_delivery", preferredDisplayUnit: .seconds)
    static let notificationDeliveryErrors = Counter(label: "aviary_notification_delivery_errors_total")

    /// Help text for every family the process registers through swift-metrics
    /// (swift-prometheus' bridge registers them without any); `/metrics` adds it.
    public static let help: [String: String] = [
        "aviary_rollout_reconcile": "Time taken by one Rollout reconcile, in seconds.",
        "aviary_rollout_reconcile_errors_total": "Rollout reconciles that ended in an error.",
        "aviary_analysis_run_reconcile": "Time taken by one AnalysisRun reconcile, in seconds.",
        "aviary_analysis_run_reconcile_errors_total": "AnalysisRun reconciles that ended in an error.",
        "aviary_analysis_run_measurements_total":
            "Measurements taken, by metric name (the first \(measurementMetricLabels.limit) names, then \"other\") and phase.",
        "aviary_k8s_request_total": "Kubernetes API requests, by verb and response code (0: no response).",
        "aviary_workqueue_adds_total": "Keys added to a work queue.",
        "aviary_workqueue_retries_total": "Keys put back on a work queue to be retried.",
        "aviary_workqueue_depth": "Keys waiting in a work queue.",
        "aviary_leader": "1 while this process holds the leader Lease, else 0.",
        "aviary_notification_delivery": "Time taken to deliver one Rollout's pending notifications, retries included, in seconds.",
        "aviary_notification_delivery_errors_total": "Deliveries whose sent notifications could not be recorded in the Rollout's status (retried).",
        "aviary_notifications_total": "Notifications sent or failed, by service (the first 100 names, then \"other\"), trigger (likewise) and result (sent, failed).",
        "aviary_side_effects_dropped_total": "Events dropped undelivered: the oldest when the queue was full, or what was left when shutdown cut the flush short.",
    ]

    /// The `metric` label values of `aviary_analysis_run_measurements_total`.
    /// Metric names come from users, so the label is bounded twice: each value
    /// is cut to `MetricsLabel.maxMetricNameLength` scalars, and only the first
    /// 1000 distinct names the process sees get a label of their own; later
    /// ones count under `"other"`. So the family has at most 1001 × 6 series
    /// (one per phase) however many runs come and go, and a counter never
    /// disappears once exported. (A real metric named "other" shares that label.)
    static let measurementMetricLabels = BoundedLabelValues(limit: 1000)

    /// Service and trigger names come from configuration (a tenant's too, with self-service): bounded like metric names.
    static let notificationLabels = BoundedLabelValues(limit: 100)

    /// One notification request's outcome.
    static func notification(service: String, trigger: String, sent: Bool) {
        Counter(label: "aviary_notifications_total",
                dimensions: [("service", notificationLabels.label(for: service)), ("trigger", notificationLabels.label(for: trigger)),
                             ("result", sent ? "sent" : "failed")]).increment()
    }

    /// One measurement taken, by metric name and phase.
    static func measurement(metric: String, phase: String) {
        Counter(label: "aviary_analysis_run_measurements_total",
                dimensions: [("metric", measurementMetricLabels.label(for: metric)), ("phase", phase)]).increment()
    }
}

/// A bounded set of label values: the first `limit` distinct values keep
/// their own label (cut to `MetricsLabel.maxMetricNameLength` scalars), later
/// ones become `overflow`.
public final class BoundedLabelValues: Sendable {
    public let limit: Int
    public let overflow: String
    private let seen = Mutex<Set<String>>([])

    public init(limit: Int, overflow: String = "other") {
        self.limit = limit
        self.overflow = overflow
    }

    public func label(for raw: String) -> String {
        let value = MetricsLabel.metricName(raw)
        return seen.withLock { seen in
            if seen.contains(value) { return value }
            guard seen.count < limit else { return overflow }
            seen.insert(value)
            return value
        }
    }

    /// How many distinct values have a label of their own.
    public var count: Int { seen.withLock { $0.count } }
}

extension RolloutController {
    /// One API request, by verb and response code (0: no response): the KubeClient's observer.
    /// With its time: waiting for the client's rate limiter (the first place to
    /// look when updates are slow: `--qps`/`--burst`), and the request itself.
    public static func recordAPIRequest(_ r: KubeClient.RequestRecord) {
        Counter(label: "aviary_k8s_request_total", dimensions: [("verb", r.method), ("code", String(r.code))]).increment()
        Timer(label: "aviary_k8s_request_duration_seconds", dimensions: [("verb", r.method)], preferredDisplayUnit: .seconds).record(duration: r.took)
        Timer(label: "aviary_k8s_rate_limiter_duration_seconds", preferredDisplayUnit: .seconds).record(duration: r.throttled)
    }
}

extension ControllerMetrics {
    struct Queue {
        let adds: Counter
        let retries: Counter
        let depth: Gauge
        /// From add to a worker taking the key: the queue's share of a change's latency.
        let wait: Timer

        init(_ name: String) {
            wait = Timer(label: "aviary_workqueue_queue_duration_seconds", dimensions: [("name", name)], preferredDisplayUnit: .seconds)
            adds = Counter(label: "aviary_workqueue_adds_total", dimensions: [("name", name)])
            retries = Counter(label: "aviary_workqueue_retries_total", dimensions: [("name", name)])
            depth = Gauge(label: "aviary_workqueue_depth", dimensions: [("name", name)])
        }
    }
}
