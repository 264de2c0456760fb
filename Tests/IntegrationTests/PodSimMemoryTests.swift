import Foundation
import Kube
import Testing

/// podsim's cAdvisor memory series: each running container's working set and
/// limit, as a kubelet serves them, steered by `podsim.aviary.dev/memory`.
@Suite struct PodSimMemoryTests {
    func replicaSet(_ name: String, memory: String?, containers: [JSONValue]) -> JSONValue {
        let annotations: JSONValue = memory.map { ["podsim.aviary.dev/memory": .string($0)] } ?? [:]
        return [
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": ["name": .string(name)],
            "spec": [
                "replicas": 1, "selector": ["matchLabels": ["app": .string(name)]],
                "template": [
                    "metadata": ["labels": ["app": .string(name)], "annotations": annotations],
                    "spec": ["containers": .array(containers)],
                ],
            ],
        ]
    }

    func container(_ name: String, limit: String?) -> JSONValue {
        var c: JSONValue = ["name": .string(name), "image": "registry.example/app:1"]
        if let limit { c = c.overlaid(with: ["resources": ["limits": ["memory": .string(limit)]]]) }
        return c
    }

    /// `series{namespace="ns",pod="<rs>-…",container="c"}` → value, for this namespace.
    func series(_ name: String, ns: String) async throws -> [String: Double] {
        let port = try String(contentsOfFile: try TestCluster.directory + "/podsim-metrics.port", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let run = try await runProcess("/usr/bin/env", ["curl", "-fsS", "--max-time", "5", "http://127.0.0.1:\(port)/metrics"])
        guard run.status == 0 else { throw KubeError.config("podsim /metrics: \(String(decoding: run.stderr, as: UTF8.self))") }
        var out: [String: Double] = [:]
        for line in String(decoding: run.stdout, as: UTF8.self).split(separator: "\n")
        where line.hasPrefix(name + "{") && line.contains("namespace=\"\(ns)\"") {
            guard let podStart = line.range(of: "pod=\"")?.upperBound, let podEnd = line[podStart...].firstIndex(of: "-"),
                  let cStart = line.range(of: "container=\"")?.upperBound, let cEnd = line[cStart...].firstIndex(of: "\""),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            out["\(line[podStart..<podEnd])/\(line[cStart..<cEnd])"] = value
        }
        return out
    }

    @Test func containersReportTheirWorkingSetAsAShareOfTheirLimit() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("podsim-mem", client: client)
        let mi = 1024.0 * 1024
        // Limits as people write them (the API server may store another spelling of the same quantity).
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("full", memory: "0.95", containers: [
            container("app", limit: "256Mi"), container("decimal", limit: "1G"), container("exponent", limit: "129e6"),
            container("fraction", limit: "0.5Gi"), container("unlimited", limit: nil),
        ]), namespace: ns)
        // Unreadable shares: the default (0.5); out of range: clamped to 0…1.
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("nan", memory: "NaN", containers: [container("app", limit: "100Mi")]), namespace: ns)
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("huge", memory: "1e999", containers: [container("app", limit: "100Mi")]),
                                                   namespace: ns)
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("plain", memory: nil, containers: [container("app", limit: "100Mi")]), namespace: ns)
        try await eventually("the memory series of every running container", timeout: .seconds(20)) {
            try await series("container_memory_working_set_bytes", ns: ns).count == 8
        }
        let limits = try await series("container_spec_memory_limit_bytes", ns: ns)
        #expect(limits["full/app"] == 256 * mi)
        #expect(limits["full/decimal"] == 1e9)
        #expect(limits["full/exponent"] == 129e6)
        #expect(limits["full/fraction"] == 512 * mi)
        #expect(limits["full/unlimited"] == 0, "no limit reads 0, as cAdvisor reports it")
        let used = try await series("container_memory_working_set_bytes", ns: ns)
        #expect(used["full/app"] == (0.95 * 256 * mi).rounded())
        #expect(used["full/unlimited"] == (0.95 * 512 * mi).rounded(), "a share of 512 MiB without a limit")
        #expect(used["nan/app"] == 50 * mi)
        #expect(used["huge/app"] == 50 * mi, "1e999 is not a finite share: the default")
        #expect(used["plain/app"] == 50 * mi)
        // As a query sees it.
        let ratio = try await eventuallyValue("Prometheus to scrape the series", timeout: .seconds(20)) { () -> Double? in
            let q = "max(container_memory_working_set_bytes{namespace=\"\(ns)\",pod=~\"full-.*\"} / (container_spec_memory_limit_bytes{namespace=\"\(ns)\",pod=~\"full-.*\"} > 0))"
            let url = try AnalysisE2ETests.prometheusURL + "/api/v1/query?query=" + (q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            let r = try await CurlEngine.shared.perform(HTTPRequest(method: "GET", url: url))
            let body = try JSONDecoder().decode(JSONValue.self, from: Data(r.body))
            return body["data"]?["result"]?.arrayValue?.first?["value"]?.arrayValue?.last?.stringValue.flatMap(Double.init)
        }
        #expect(abs(ratio - 0.95) < 0.001)
        // A deleted pod's series go with it.
        try await client.delete(.replicaSets, "plain", namespace: ns)
        try await eventually("the deleted pod's series to go", timeout: .seconds(30)) { try await series("container_memory_working_set_bytes", ns: ns)["plain/app"] == nil }
        await TestCluster.deleteNamespace(ns, client: client)
    }
}
