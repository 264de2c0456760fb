import Analysis
import Foundation
import Kube
import Testing

/// The readiness simulator's traffic follows Istio and Gateway API routes
/// (weights, header matches, mirrors, subsets), read from podsim's own
/// `/metrics` as Prometheus scrapes it. The podsim that scripts/cluster.sh
/// runs uses the default test header, `X-Canary: true` on 10 % of a route's
/// requests.
@Suite struct PodSimRoutingTests {
    static let stableHash = "s1"
    static let canaryHash = "c1"

    func replicaSet(_ name: String, app: String, hash: String, replicas: Int) -> JSONValue {
        let labels: JSONValue = ["app": .string(app), "rollouts-pod-template-hash": .string(hash)]
        return [
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": ["name": .string(name)],
            "spec": [
                "replicas": .number(Double(replicas)), "selector": ["matchLabels": labels],
                "template": ["metadata": ["labels": labels], "spec": ["containers": [["name": "app", "image": .string("registry.example/\(app):1")]]]],
            ],
        ]
    }

    func service(_ name: String, selector: [String: String]) -> JSONValue {
        [
            "apiVersion": "v1", "kind": "Service", "metadata": ["name": .string(name)],
            "spec": ["selector": .object(selector.mapValues { .string($0) }), "ports": [["port": 80, "targetPort": 8080]]],
        ]
    }

    /// Two versions of `web` (3 stable pods, 1 canary pod) behind web-stable, web-canary
    /// and web (both), and one pod of `other` behind no route; all Ready.
    func deployWeb(_ ns: String, client: KubeClient) async throws {
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("web-stable", app: "web", hash: Self.stableHash, replicas: 3), namespace: ns)
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("web-canary", app: "web", hash: Self.canaryHash, replicas: 1), namespace: ns)
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("other", app: "other", hash: "o1", replicas: 1), namespace: ns)
        let _: JSONValue = try await client.create(.services, service("web-stable", selector: ["app": "web", "rollouts-pod-template-hash": Self.stableHash]),
                                                   namespace: ns)
        let _: JSONValue = try await client.create(.services, service("web-canary", selector: ["app": "web", "rollouts-pod-template-hash": Self.canaryHash]),
                                                   namespace: ns)
        let _: JSONValue = try await client.create(.services, service("web", selector: ["app": "web"]), namespace: ns)
        try await eventually("every pod Ready and serving", timeout: .seconds(30)) {
            let c = try await requestCounts(ns)
            return (c[Self.stableHash] ?? 0) > 0 && (c[Self.canaryHash] ?? 0) > 0 && (c["o1"] ?? 0) > 0
        }
    }

    /// Requests served so far in `ns`, per pod template hash, from podsim's `/metrics`.
    func requestCounts(_ ns: String) async throws -> [String: Double] {
        let port = try String(contentsOfFile: try TestCluster.directory + "/podsim-metrics.port", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let run = try await runProcess("/usr/bin/env", ["curl", "-fsS", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"])
        guard run.status == 0 else { throw KubeError.config("podsim /metrics: \(String(decoding: run.stderr, as: UTF8.self))") }
        var counts: [String: Double] = [:]
        for line in String(decoding: run.stdout, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix("http_requests_total{") && line.contains("namespace=\"\(ns)\"") {
            guard let hashStart = line.range(of: "rollouts_pod_template_hash=\"")?.upperBound,
                  let hashEnd = line[hashStart...].firstIndex(of: "\""),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            counts[String(line[hashStart..<hashEnd]), default: 0] += value
        }
        return counts
    }

    /// Requests per second per hash over `seconds`.
    func rates(_ ns: String, over seconds: Double = 4) async throws -> [String: Double] {
        let before = try await requestCounts(ns)
        let start = ContinuousClock.now
        try await Task.sleep(for: .seconds(seconds))
        let after = try await requestCounts(ns)
        let elapsed = start.duration(to: .now)
        let secs = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var out: [String: Double] = [:]
        for (hash, n) in after { out[hash] = (n - (before[hash] ?? 0)) / secs }
        return out
    }

    /// The rates once a route change has reached podsim (it reads routes every
    /// second): windows are measured until one satisfies `holds`, for up to 30 s
    /// on a busy machine; the last window's rates either way.
    @discardableResult
    func settledRates(_ ns: String, _ what: String, _ holds: ([String: Double]) -> Bool) async throws -> [String: Double] {
        try await Task.sleep(for: .seconds(2))
        let deadline = ContinuousClock.now + .seconds(30)
        var r = try await rates(ns)
        while !holds(r), ContinuousClock.now < deadline { r = try await rates(ns) }
        #expect(holds(r), "\(what): \(r)")
        return r
    }

    func canaryShare(_ r: [String: Double]) -> Double {
        let canary = r[Self.canaryHash] ?? 0, stable = r[Self.stableHash] ?? 0
        return canary + stable > 0 ? canary / (canary + stable) : -1
    }

    func apply(_ resource: Resource, _ object: JSONValue, namespace: String, client: KubeClient) async throws {
        guard let name = object["metadata"]?["name"]?.stringValue else { return }
        do {
            let current: RouteObjectMeta = try await client.get(resource, name, namespace: namespace)
            var replacement = object
            if case .object(var o) = replacement, case .object(var meta)? = o["metadata"] {
                meta["resourceVersion"] = .string(current.metadata.resourceVersion ?? "")
                o["metadata"] = .object(meta)
                replacement = .object(o)
            }
            let _: JSONValue = try await client.replace(resource, name, replacement, namespace: namespace)
        } catch let error as KubeError where error.isNotFound {
            let _: JSONValue = try await client.create(resource, object, namespace: namespace)
        }
    }

    struct RouteObjectMeta: Decodable, Sendable { var metadata: ObjectMeta }

    func virtualService(_ http: [JSONValue]) -> JSONValue {
        [
            "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "metadata": ["name": "web"],
            "spec": ["hosts": ["web.example.com"], "http": .array(http)],
        ]
    }

    func destination(_ host: String, subset: String? = nil, weight: Int? = nil) -> JSONValue {
        var d: [String: JSONValue] = ["host": .string(host)]
        if let subset { d["subset"] = .string(subset) }
        var o: [String: JSONValue] = ["destination": .object(d)]
        if let weight { o["weight"] = .number(Double(weight)) }
        return .object(o)
    }

    @Test func istioWeightsHeadersMirrorsAndSubsets() async throws {
        let client = try TestCluster.client()
        try await TestCluster.installRouteCRDs()
        let ns = try await TestCluster.namespace("podsim-istio", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        try await deployWeb(ns, client: client)

        // Weighted 90/10 by host: the offered load (10/s for each of the 4 pods) splits 90/10.
        try await apply(.virtualServices, virtualService([
            ["name": "primary", "route": [destination("web-stable", weight: 90), destination("web-canary.\(ns).svc.cluster.local", weight: 10)]],
        ]), namespace: ns, client: client)
        let r = try await settledRates(ns, "canary share at weight 10") { (0.05...0.2).contains(canaryShare($0)) }
        #expect((28...52).contains((r[Self.stableHash] ?? 0) + (r[Self.canaryHash] ?? 0)), "offered load of 4 pods: \(r)")
        // A pod behind no route serves as before: 10 requests a second.
        #expect((7...13).contains(r["o1"] ?? 0), "unrouted pod: \(r)")

        // Prometheus, scraping podsim, sees the same split per hash.
        let promPort = try String(contentsOfFile: try TestCluster.directory + "/prometheus.port", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let query = "sum(rate(http_requests_total{namespace=\"\(ns)\",service=\"web\",rollouts_pod_template_hash=\"\(Self.canaryHash)\"}[4s])) / sum(rate(http_requests_total{namespace=\"\(ns)\",service=\"web\"}[4s]))"
        let prometheus = PrometheusProvider(address: "http://127.0.0.1:\(promPort)", timeout: .seconds(5))
        try await eventually("Prometheus to see the canary's share at 4-20 %") {
            guard case .array(let values) = try await prometheus.query(query), values.count == 1, case .number(let v)? = values.first else { return false }
            return (0.04...0.2).contains(v)
        }

        // Weight 0 for the canary, and a header route before it: only the
        // tagged 10 % reach the canary.
        try await apply(.virtualServices, virtualService([
            ["name": "canary-header", "match": [["headers": ["x-canary": ["exact": "true"]]]], "route": [destination("web-canary")]],
            ["name": "primary", "route": [destination("web-stable", weight: 100), destination("web-canary", weight: 0)]],
        ]), namespace: ns, client: client)
        try await settledRates(ns, "canary share through the header route") { (0.05...0.2).contains(canaryShare($0)) }

        // A header match that the test header does not satisfy: nothing reaches the canary.
        try await apply(.virtualServices, virtualService([
            ["name": "canary-header", "match": [["headers": ["x-canary": ["regex": "yes|on"]]]], "route": [destination("web-canary")]],
            ["name": "primary", "route": [destination("web-stable", weight: 100), destination("web-canary", weight: 0)]],
        ]), namespace: ns, client: client)
        try await settledRates(ns, "canary share with no matching route") { (0...0.01).contains(canaryShare($0)) }

        // A mirror of half the requests: the canary serves a copy of half of what stable serves.
        try await apply(.virtualServices, virtualService([
            ["name": "primary", "route": [destination("web-stable", weight: 100), destination("web-canary", weight: 0)],
             "mirror": ["host": "web-canary"], "mirrorPercentage": ["value": 50.0]],
        ]), namespace: ns, client: client)
        try await settledRates(ns, "canary copies of half of stable's requests") { (0.35...0.65).contains(($0[Self.canaryHash] ?? 0) / max($0[Self.stableHash] ?? 0, 1)) }

        // Subsets of one Service through a DestinationRule, 80/20.
        try await apply(.destinationRules, [
            "apiVersion": "networking.istio.io/v1beta1", "kind": "DestinationRule", "metadata": ["name": "web"],
            "spec": ["host": "web", "subsets": [
                ["name": "stable", "labels": ["rollouts-pod-template-hash": .string(Self.stableHash)]],
                ["name": "canary", "labels": ["rollouts-pod-template-hash": .string(Self.canaryHash)]],
            ]],
        ], namespace: ns, client: client)
        try await apply(.virtualServices, virtualService([
            ["name": "primary", "route": [destination("web", subset: "stable", weight: 80), destination("web", subset: "canary", weight: 20)]],
        ]), namespace: ns, client: client)
        try await settledRates(ns, "canary share by subset at weight 20") { (0.12...0.3).contains(canaryShare($0)) }

        // Nonsense the schema lets through (a regex that does not compile or
        // that backtracks without end, a subset no DestinationRule defines, an
        // external host) serves nothing and harms nothing: the stable pods
        // still get what the route sends them.
        try await apply(.virtualServices, virtualService([
            // `(.*){20}x` would spin a backtracking engine for hours.
            ["name": "broken", "match": [["headers": ["x-canary": ["regex": "(unclosed"]]], ["headers": ["x-canary": ["regex": "(.*){20}x"]]]],
             "route": [destination("web-canary")]],
            ["name": "primary", "route": [destination("web-stable", weight: 50), destination("web", subset: "missing", weight: 25),
                                         destination("api.example.com", weight: 25)]],
        ]), namespace: ns, client: client)
        let broken = try await settledRates(ns, "only stable's half of the load served") {
            (0...0.01).contains(canaryShare($0)) && (12...28).contains($0[Self.stableHash] ?? 0)
        }
        #expect((7...13).contains(broken["o1"] ?? 0), "unrouted pod: \(broken)")
    }

    @Test func gatewayAPIWeightsAndHeaders() async throws {
        let client = try TestCluster.client()
        try await TestCluster.installRouteCRDs()
        let ns = try await TestCluster.namespace("podsim-gw", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        try await deployWeb(ns, client: client)

        func route(_ rules: [JSONValue]) -> JSONValue {
            [
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute", "metadata": ["name": "web"],
                "spec": ["parentRefs": [["name": "gateway"]], "rules": .array(rules)],
            ]
        }
        func backend(_ name: String, weight: Int? = nil) -> JSONValue {
            var o: [String: JSONValue] = ["name": .string(name), "port": 80]
            if let weight { o["weight"] = .number(Double(weight)) }
            return .object(o)
        }

        // Weights 3 : 1 are proportional: a quarter to the canary.
        try await apply(.httpRoutes, route([["backendRefs": [backend("web-stable", weight: 3), backend("web-canary", weight: 1)]]]),
                        namespace: ns, client: client)
        let r = try await settledRates(ns, "canary share at weights 3:1") { (0.15...0.35).contains(canaryShare($0)) }
        #expect((7...13).contains(r["o1"] ?? 0), "unrouted pod: \(r)")

        // A rule with a header match wins over the catch-all even when listed after it.
        try await apply(.httpRoutes, route([
            ["backendRefs": [backend("web-stable"), backend("web-canary", weight: 0)]],
            ["matches": [["headers": [["name": "X-Canary", "value": "true"]]]], "backendRefs": [backend("web-canary")]],
        ]), namespace: ns, client: client)
        try await settledRates(ns, "canary share through the header rule") { (0.05...0.2).contains(canaryShare($0)) }
    }
}
