import AviaryAPI
import Foundation
import Kube
import Testing

/// Analysis under a router: at 5 % weight the canary runs one pod and gets
/// 5 % of the route's requests (the simulator follows the VirtualService), and
/// a bad canary is still caught there, before anyone else sees it.
@Suite struct TrafficAnalysisE2ETests {
    static let virtualService: JSONValue = [
        "apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService", "metadata": ["name": "web"],
        "spec": ["hosts": ["web"], "http": [
            ["name": "primary", "route": [["destination": ["host": "web-stable"], "weight": 100], ["destination": ["host": "web-canary"], "weight": 0]]],
        ]],
    ]

    func weights(_ client: KubeClient, _ ns: String) async throws -> [Int] {
        let vs: JSONValue = try await client.get(.virtualServices, "web", namespace: ns)
        let route = vs["spec"]?["http"]?.item(0)?["route"]?.arrayValue ?? []
        return route.map { $0["weight"]?.intValue ?? -1 }
    }

    @Test func aBadCanaryAtFivePercentIsCaughtByItsMetrics() async throws {
        try await TestCluster.installRouteCRDs()
        let tests = AnalysisE2ETests()
        var s: AnalysisE2ETests.Setup?
        s = try await tests.start("routed-analysis") { rollout in
            rollout.overlaid(with: ["spec": ["strategy": ["canary": [
                "trafficRouting": ["istio": ["virtualService": ["name": "web", "routes": ["primary"]]]],
                "steps": [["setWeight": 5], ["analysis": rollout["spec"]?["strategy"]?["canary"]?["steps"]?.item(1)?["analysis"] ?? .null],
                          ["setWeight": 50], ["pause": [:]]],
                "analysis": .null,
            ]]]])
        } before: { client, ns in
            let _: JSONValue = try await client.create(.virtualServices, Self.virtualService, namespace: ns)
        }
        guard let s else { return }
        let p = s.probe
        #expect(try await weights(s.client, s.ns) == [100, 0])

        try await tests.release(p, image: "registry.example/web:3.0", errorRate: 0.5, latency: "20ms")
        try await eventually("the canary at 5 % on one pod", timeout: .seconds(60)) {
            let sz = try await p.sizes()
            return try await weights(s.client, s.ns) == [95, 5] && sz["registry.example/web:3.0"]?.available == 1
        }
        #expect(try await p.sizes()["registry.example/web:1.0"]?.desired == 5, "stable stays whole under a router")
        try await p.wait("3.0 aborted by analysis at 5 %", timeout: .seconds(90)) { $0.status?.abort == true && $0.status?.phase == .Degraded }
        let message = try await p.rollout().status?.message ?? ""
        #expect(message.contains("success-rate"), "the abort names the metric: \(message)")
        try await eventually("the weight back on stable", timeout: .seconds(30)) { try await weights(s.client, s.ns) == [100, 0] }
        await tests.finish(s)
    }
}
