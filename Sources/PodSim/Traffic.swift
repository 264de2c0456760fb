import FlyingFox
import Foundation
import Kube

/// Simulated request traffic, so analysis has something real to measure.
/// Every Ready pod serves `requestsPerPod` requests a second; a pod template
/// sets its error rate and latency with annotations:
/// - `podsim.aviary.dev/error-rate: "0.3"`: that share of requests answer 500;
/// - `podsim.aviary.dev/latency: "800ms"`: every request takes that long;
/// - `podsim.aviary.dev/latency-jitter: "0.1"`: each pod's latency varies by
///   up to ±10 % from second to second, so two versions of the same speed
///   differ only by noise (what a statistical comparison must not fail).
///
/// Pods behind an Istio or Gateway API route serve what the route sends them
/// instead (see `RoutingPlan`); the error rate and latency stay the pod's.
///
/// Served on `/metrics` in Prometheus' text format, per namespace, service
/// (the pod's `app` label, routed or not, so one query serves both) and pod
/// template hash:
/// `http_requests_total{namespace, service, rollouts_pod_template_hash, status}`
/// and the histogram `http_request_duration_seconds`.
actor Traffic {
    static let errorRate = "podsim.aviary.dev/error-rate"
    static let latency = "podsim.aviary.dev/latency"
    static let latencyJitter = "podsim.aviary.dev/latency-jitter"
    static let buckets: [Double] = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

    struct Source: Hashable {
        var namespace: String
        var service: String
        var hash: String
    }

    struct Profile {
        var source: Source
        var errorRate: Double
        var latency: Double
        /// 0…1: each second's latency is latency × (1 ± up to this).
        var jitter = 0.0
        /// For routing: which Services and subsets select the pod.
        var labels: [String: String]
    }

    struct Counters {
        var ok = 0.0, errors = 0.0
        /// Per bucket (cumulative when written), then +Inf = total.
        var bucketCounts = [Double](repeating: 0, count: Traffic.buckets.count)
        var sum = 0.0
    }

    let requestsPerPod: Double
    /// The share of a route's requests that carry the test header.
    let taggedShare: Double
    private var ready: [String: Profile] = [:]
    private var counters: [Source: Counters] = [:]
    private var routing = RoutingTable()
    /// Requests a second per pod behind a route; nil when the routes or the
    /// Ready pods changed since it was worked out (at most once a tick).
    private var routedRates: [String: Double]?

    init(requestsPerPod: Double, taggedShare: Double = 0) {
        self.requestsPerPod = requestsPerPod
        self.taggedShare = taggedShare
    }

    /// The routes as `RouteWatcher` last read them.
    func route(by table: RoutingTable) {
        guard table != routing else { return }
        routing = table
        routedRates = nil
    }

    /// Tracks a pod: it serves while Ready.
    func observe(_ pod: Pod) {
        guard let uid = pod.metadata.uid else { return }
        if !routing.isEmpty { routedRates = nil }
        guard pod.isReady, pod.metadata.deletionTimestamp == nil, let hash = pod.metadata.labels?["rollouts-pod-template-hash"] else {
            ready[uid] = nil
            return
        }
        let a = pod.metadata.annotations ?? [:]
        let latency = a[Self.latency].flatMap(PodAnnotations.parseDuration).map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 } ?? 0.02
        ready[uid] = Profile(source: Source(namespace: pod.metadata.namespace ?? "", service: pod.metadata.labels?["app"] ?? "unknown", hash: hash),
                             errorRate: min(max(Double(a[Self.errorRate] ?? "") ?? 0, 0), 1), latency: latency,
                             labels: pod.metadata.labels ?? [:])
        ready[uid]?.jitter = Self.share(a[Self.latencyJitter])
    }

    /// A share 0…1 from an annotation; anything else (NaN, text) is 0.
    static func share(_ text: String?) -> Double {
        guard let text, let v = Double(text), v.isFinite else { return 0 }
        return min(max(v, 0), 1)
    }

    /// A relist: the pods that follow are all there is.
    func reset() {
        ready = [:]
        routedRates = nil
    }

    func forget(_ pod: Pod) {
        if let uid = pod.metadata.uid, ready.removeValue(forKey: uid) != nil, !routing.isEmpty { routedRates = nil }
    }

    /// One second of traffic.
    func tick(seconds: Double) {
        // Without routes (the scale benchmark) no routing work is done at all.
        var routed: [String: Double] = [:]
        if !routing.isEmpty {
            if routedRates == nil {
                routedRates = RoutingPlan.rates(table: routing, pods: ready.mapValues { RoutingPlan.PodInfo(namespace: $0.source.namespace, labels: $0.labels) },
                                                requestsPerPod: requestsPerPod, taggedShare: taggedShare)
            }
            routed = routedRates ?? [:]
        }
        for (uid, profile) in ready {
            let n = (routed[uid] ?? requestsPerPod) * seconds
            var c = counters[profile.source] ?? Counters()
            c.errors += n * profile.errorRate
            c.ok += n * (1 - profile.errorRate)
            let latency = profile.jitter > 0 ? profile.latency * (1 + Double.random(in: -profile.jitter...profile.jitter)) : profile.latency
            if let i = Self.buckets.firstIndex(where: { latency <= $0 }) { c.bucketCounts[i] += n }
            c.sum += n * latency
            counters[profile.source] = c
        }
    }

    func exposition() -> String {
        var out = "# HELP http_requests_total Requests served by simulated pods.\n# TYPE http_requests_total counter\n"
        let sources = counters.keys.sorted { ($0.namespace, $0.service, $0.hash) < ($1.namespace, $1.service, $1.hash) }
        func labels(_ s: Source) -> String {
            "namespace=\"\(s.namespace)\",service=\"\(s.service)\",rollouts_pod_template_hash=\"\(s.hash)\""
        }
        for s in sources {
            let c = counters[s]!
            out += "http_requests_total{\(labels(s)),status=\"200\"} \(c.ok.rounded(.down))\n"
            out += "http_requests_total{\(labels(s)),status=\"500\"} \(c.errors.rounded(.down))\n"
        }
        out += "# HELP http_request_duration_seconds Latency of requests served by simulated pods.\n# TYPE http_request_duration_seconds histogram\n"
        for s in sources {
            let c = counters[s]!
            var cumulative = 0.0
            for (i, le) in Self.buckets.enumerated() {
                cumulative += c.bucketCounts[i]
                out += "http_request_duration_seconds_bucket{\(labels(s)),le=\"\(le)\"} \(cumulative.rounded(.down))\n"
            }
            let total = c.ok + c.errors
            out += "http_request_duration_seconds_bucket{\(labels(s)),le=\"+Inf\"} \(total.rounded(.down))\n"
            out += "http_request_duration_seconds_sum{\(labels(s))} \(c.sum)\n"
            out += "http_request_duration_seconds_count{\(labels(s))} \(total.rounded(.down))\n"
        }
        return out
    }

    /// Serves `/metrics` until cancelled, and makes traffic every second;
    /// `also` adds other series (the memory ones, `ResourceUsage`).
    func serve(port: UInt16, also: @escaping @Sendable () async -> String = { "" }) async throws {
        let server = HTTPServer(address: try .inet(ip4: "127.0.0.1", port: port))
        await server.appendRoute("GET /metrics") { [self] _ in
            HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: Data((await self.exposition() + also()).utf8))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.addTask {
                let clock = ContinuousClock()
                var last = clock.now
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    let now = clock.now
                    let elapsed = last.duration(to: now)
                    last = now
                    await self.tick(seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
