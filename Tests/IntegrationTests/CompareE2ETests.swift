import AviaryAPI
import Foundation
import Kube
import Testing

/// `provider.compare` end to end: the real controller compares the canary's
/// latency with the stable's through the real Prometheus, which scrapes the
/// simulator. Both versions are well under a fixed 500 ms limit; only the
/// comparison can tell a 30 % slower canary from one that differs by noise.
@Suite struct CompareE2ETests {
    /// Mean latency per second over the last 30 s, for each side by its hash;
    /// and the error rate, a second metric of the score.
    static func template(prometheus: String) -> JSONValue {
        let selector = "namespace=\"{{args.namespace}}\", service=\"web\", rollouts_pod_template_hash=\"{{hash}}\""
        return [
            "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": "judge"],
            "spec": [
                "args": [
                    ["name": "namespace", "valueFrom": ["fieldRef": ["fieldPath": "metadata.namespace"]]],
                    ["name": "canary-hash", "valueFrom": ["podTemplateHashValue": "Latest"]],
                    ["name": "stable-hash", "valueFrom": ["podTemplateHashValue": "Stable"]],
                ],
                "metrics": [[
                    "name": "judge", "initialDelay": "40s",
                    "provider": ["compare": [
                        "prometheus": ["address": .string(prometheus), "timeout": 5,
                                       "rangeQuery": ["start": "now() - duration('30s')", "step": "1s"]],
                        "canary": "{{args.canary-hash}}", "baseline": "{{args.stable-hash}}",
                        "thresholds": ["pass": 90, "marginal": 50],
                        "metrics": [
                            [
                                "name": "latency", "direction": "increase", "critical": true,
                                "effectSize": ["allowedIncrease": 1.1],
                                "query": .string("sum(rate(http_request_duration_seconds_sum{\(selector)}[10s])) / sum(rate(http_request_duration_seconds_count{\(selector)}[10s]))"),
                            ],
                            [
                                "name": "error-rate", "direction": "increase",
                                "query": .string("sum(rate(http_requests_total{\(selector), status=\"500\"}[10s])) / sum(rate(http_requests_total{\(selector)}[10s]))"),
                            ],
                        ],
                    ]],
                ]],
            ],
        ]
    }

    func value(_ run: AnalysisRun) throws -> JSONValue {
        let text = try #require(run.status?.result("judge")?.measurements?.last?.value)
        return try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }

    func latency(_ v: JSONValue) -> [String: JSONValue] {
        guard case .array(let metrics)? = v["metrics"], case .object(let o)? = metrics.first(where: { $0["name"] == "latency" }) else { return [:] }
        return o
    }

    @Test func aSlowerCanaryUnderTheLimitFailsAndOneWithinNoisePasses() async throws {
        let e2e = AnalysisE2ETests()
        let prometheus = try AnalysisE2ETests.prometheusURL
        let s = try await e2e.start("compare", templates: [Self.template(prometheus: prometheus)]) { r in
            r.setting(["spec", "strategy", "canary", "analysis"], to: nil)
                .setting(["spec", "strategy", "canary", "steps"], to: [["setWeight": 20], ["analysis": ["templates": [["templateName": "judge"]]]]])
                .setting(["spec", "template", "metadata", "annotations"], to: [
                    "podsim.aviary.dev/latency": "200ms", "podsim.aviary.dev/latency-jitter": "0.1",
                ])
        }
        let p = s.probe

        // Within noise: the same 200 ms ± 10 % per pod and second. The score is 100; 2.0 is promoted.
        let first = try await p.rollout().status?.stableRS
        try await e2e.release(p, image: "registry.example/web:2.0", errorRate: 0, latency: "200ms")
        try await p.wait("2.0 promoted by the comparison", timeout: .seconds(150)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS != first && $0.status?.stableRS == $0.status?.currentPodHash
        }
        let good = try await p.rollout().status?.stableRS ?? ""
        let passed = try await e2e.run(s, "web-\(good)-1")
        #expect(passed.phase == .Successful, "\(passed.status?.message ?? "")")
        let pv = try value(passed)
        #expect(pv["score"] == 100, "\(pv)")
        let pl = latency(pv)
        #expect(pl["result"] == "Pass")
        if case .number(let n)? = pl["canary"]?["n"] { #expect(n >= 20, "a sample per second of the window: \(n)") }
        #expect(passed.status?.result("judge")?.measurements?.last?.metadata?["canary-hash"] == good)

        // 30 % slower, 260 ms: under any fixed 500 ms limit, but the comparison fails it and the update is aborted.
        try await e2e.release(p, image: "registry.example/web:3.0", errorRate: 0, latency: "260ms")
        try await p.wait("3.0 aborted by the comparison", timeout: .seconds(150)) { $0.status?.abort == true }
        let bad = try await p.rollout().status?.currentPodHash ?? ""
        let failed = try await e2e.run(s, "web-\(bad)-1")
        #expect(failed.phase == .Failed)
        let fv = try value(failed)
        #expect(fv["score"] == 0, "the latency metric is critical: \(fv)")
        let fl = latency(fv)
        #expect(fl["result"] == "High")
        if case .number(let median)? = fl["canary"]?["median"] { #expect(median > 0.24 && median < 0.5, "slower, but under 500 ms: \(median)") }
        if case .number(let effect)? = fl["effect"] { #expect(effect > 0.2 && effect < 0.4, "about +30 %: \(effect)") }
        if case .number(let pValue)? = fl["pValue"] { #expect(pValue < 0.02) }
        let message = try await p.rollout().status?.message ?? ""
        #expect(message.contains("judge: score 0 (pass 90, marginal 50): latency High (critical): canary median 0.2"), "\(message)")
        #expect(!message.contains("p=0 "), "a tiny p-value is not rounded to 0: \(message)")
        await e2e.finish(s)
    }
}
