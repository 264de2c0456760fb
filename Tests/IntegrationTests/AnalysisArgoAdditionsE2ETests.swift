import AviaryAPI
import Foundation
import Kube
import TestSupport
import Testing

/// What Argo added to analysis since 1.7, end to end against the real
/// controller and Prometheus: range queries, consecutiveSuccessLimit,
/// ttlStrategy (on AnalysisRuns created by hand) and templates that include
/// templates (through a Rollout's analysis step).
@Suite struct AnalysisArgoAdditionsE2ETests {
    func run(_ name: String, metric: JSONValue, ttl: JSONValue) -> JSONValue {
        ["apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisRun", "metadata": ["name": .string(name)],
         "spec": ["metrics": [metric], "ttlStrategy": ttl]]
    }

    @Test func aRangeQueryWaitsForSuccessesInARowAndFinishedRunsAreDeletedByTheirTTL() async throws {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("analysis-ttl", client: client)
        let prometheus = try AnalysisE2ETests.prometheusURL
        // Prometheus scrapes itself every second: over the last 30 s `up` is 1 at every step once it has data.
        let ready: JSONValue = [
            "name": "up-over-time", "interval": "1s", "count": 20, "failureLimit": -1, "consecutiveSuccessLimit": 2,
            "successCondition": "len(result) >= 2 && all(result, {# == 1})",
            "provider": ["prometheus": ["address": .string(prometheus), "query": "up{job=\"prometheus\"}",
                                        "rangeQuery": ["start": "now() - duration('30s')", "end": "now()", "step": "5s"]]],
        ]
        let failing: JSONValue = [
            "name": "never", "successCondition": "result[0] == 1",
            "provider": ["prometheus": ["address": .string(prometheus), "query": "vector(0)"]],
        ]
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        let _: JSONValue = try await client.create(AnalysisRun.resource, run("ready", metric: ready, ttl: ["secondsAfterSuccess": 4]), namespace: ns)
        let _: JSONValue = try await client.create(AnalysisRun.resource, run("failed-kept", metric: failing, ttl: ["secondsAfterSuccess": 1]), namespace: ns)
        let _: JSONValue = try await client.create(AnalysisRun.resource, run("failed-gone", metric: failing, ttl: ["secondsAfterCompletion": 2]), namespace: ns)

        let done = try await eventuallyValue("the range-query run to succeed", timeout: .seconds(60)) { () -> AnalysisRun? in
            let r: AnalysisRun = try await client.get(AnalysisRun.resource, "ready", namespace: ns)
            return r.phase.isTerminal ? r : nil
        }
        #expect(done.phase == .Successful, "\(done.status?.message ?? "")")
        let result = try #require(done.status?.result("up-over-time"))
        #expect(result.consecutiveSuccess == 2)
        #expect((result.count ?? 0) < 20, "ended at the second success in a row, not at count: \(result.count ?? 0)")
        let value = result.measurements?.last { $0.phase == .Successful }?.value ?? ""
        #expect(value.hasPrefix("[1,1"), "every step of the window is one number: \(value)")

        // secondsAfterSuccess: 4 → gone about 4 s after it completed.
        try await eventually("the successful run to be deleted by its ttlStrategy", timeout: .seconds(30)) {
            do { let _: AnalysisRun = try await client.get(AnalysisRun.resource, "ready", namespace: ns); return false } catch let e as KubeError where e.isNotFound { return true }
        }
        try await eventually("the failed run with secondsAfterCompletion to be deleted", timeout: .seconds(30)) {
            do { let _: AnalysisRun = try await client.get(AnalysisRun.resource, "failed-gone", namespace: ns); return false } catch let e as KubeError where e.isNotFound { return true }
        }
        let kept: AnalysisRun = try await client.get(AnalysisRun.resource, "failed-kept", namespace: ns)
        #expect(kept.phase == .Failed, "only secondsAfterSuccess was set, so a failed run stays")
        await TestCluster.deleteNamespace(ns, client: client)
    }

    /// OAuth2 client credentials: the controller exchanges a secret read from
    /// a Secret for a token at an endpoint served by this test, caches it, and
    /// nothing the run writes holds either.
    @Test func anOAuth2GrantFromASecretAuthorisesAWebMetric() async throws {
        let clientSecret = "e2e-cl1ent-s3cret", token = "e2e-token-5a4b3c"
        let tokens = try RecordingReceiver(responseBody: #"{"access_token":"\#(token)","token_type":"Bearer","expires_in":300}"#)
        defer { tokens.stop() }
        let refusing = try RecordingReceiver(script: .always(401),
                                             responseBody: #"{"error":"invalid_client","error_description":"no client with secret \#(clientSecret)"}"#)
        defer { refusing.stop() }
        let api = try RecordingReceiver(responseBody: #"{"ok":true}"#)
        defer { api.stop() }
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("analysis-oauth2", client: client)
        let secret = Secret(metadata: ObjectMeta(name: "oauth", namespace: ns), data: ["client-secret": Data(clientSecret.utf8).base64EncodedString()])
        let _: Secret = try await client.create(.secrets, secret, namespace: ns)
        func run(_ name: String, tokenURL: String) -> JSONValue {
            ["apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisRun", "metadata": ["name": .string(name)],
             "spec": [
                "args": [["name": "oauth-secret", "valueFrom": ["secretKeyRef": ["name": "oauth", "key": "client-secret"]]]],
                "metrics": [[
                    "name": "ok", "interval": "1s", "count": 3, "consecutiveErrorLimit": 0, "successCondition": "result == true",
                    "provider": ["web": ["url": .string(api.url("/check")), "jsonPath": "$.ok",
                                         "authentication": ["oauth2": ["tokenUrl": .string(tokenURL), "clientId": "aviary",
                                                                       "clientSecret": "{{args.oauth-secret}}", "scopes": ["metrics:read"]]]]],
                ]],
             ]]
        }
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        let _: JSONValue = try await client.create(AnalysisRun.resource, run("granted", tokenURL: tokens.url("/token")), namespace: ns)
        let _: JSONValue = try await client.create(AnalysisRun.resource, run("refused", tokenURL: refusing.url("/token")), namespace: ns)
        for name in ["granted", "refused"] {
            let done = try await eventuallyValue("run \(name) to finish", timeout: .seconds(60)) { () -> AnalysisRun? in
                let r: AnalysisRun = try await client.get(AnalysisRun.resource, name, namespace: ns)
                return r.phase.isTerminal ? r : nil
            }
            let written = String(decoding: try JSONEncoder().encode(done), as: UTF8.self)
            #expect(!written.contains(clientSecret) && !written.contains(token), "no secret in run \(name)")
            if name == "granted" {
                #expect(done.phase == .Successful, "\(done.status?.message ?? "")")
            } else {
                #expect(done.phase == .Error)
                #expect(done.status?.message?.contains("oauth2 token endpoint at \(refusing.url()): HTTP 401: invalid_client: no client with secret *****") == true,
                        "\(done.status?.message ?? "")")
            }
        }
        #expect(tokens.requests.count == 1, "one grant for three measurements")
        #expect(tokens.requests.first?.bodyText.contains("client_secret=\(clientSecret)") == true)
        #expect(api.requests.count == 3 && api.requests.allSatisfy { $0.header("authorization") == "Bearer \(token)" })
        let log = (try? String(contentsOfFile: controller.log, encoding: .utf8)) ?? ""
        #expect(!log.contains(clientSecret) && !log.contains(token), "nothing in the controller's log")
        await TestCluster.deleteNamespace(ns, client: client)
    }

    @Test func aTemplateThatIncludesTemplatesRunsAllTheirMetrics() async throws {
        let suite = AnalysisE2ETests()
        let prometheus = try AnalysisE2ETests.prometheusURL
        var templates = try AnalysisE2ETests.templates(prometheus: prometheus)
        templates.append(["apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": "release-checks"],
                          "spec": ["templates": [["templateName": "success-rate"], ["templateName": "latency"]]]])
        let s = try await suite.start("analysis-includes", templates: templates) { rollout in
            guard case .array(var steps)? = rollout["spec"]?["strategy"]?["canary"]?["steps"] else { return rollout }
            for i in steps.indices where steps[i]["analysis"] != nil {
                steps[i] = steps[i].overlaid(with: ["analysis": ["templates": [["templateName": "release-checks"]]]])
            }
            return rollout.overlaid(with: ["spec": ["strategy": ["canary": ["steps": .array(steps)]]]])
        }
        let first = try await s.probe.rollout().status?.stableRS
        try await suite.release(s.probe, image: "registry.example/web:2.0", errorRate: 0, latency: "20ms")
        try await s.probe.wait("2.0 promoted through the included templates", timeout: .seconds(90)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS != first && $0.status?.stableRS == $0.status?.currentPodHash
        }
        let hash = try await s.probe.rollout().status?.stableRS ?? ""
        let stepRun = try await suite.run(s, "web-\(hash)-1")
        #expect(stepRun.phase == .Successful)
        #expect(Set(stepRun.spec.metrics.map(\.name)) == ["success-rate", "p95-latency"])
        #expect(stepRun.spec.templates == nil)
        await suite.finish(s)
    }
}
