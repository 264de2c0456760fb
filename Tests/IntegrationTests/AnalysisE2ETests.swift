import AviaryAPI
import Foundation
import Kube
import Testing

/// Analysis end to end: the real controller runs AnalysisRuns against the
/// real Prometheus, which scrapes the simulator's request metrics. The
/// simulator's error rate and latency are set per template by annotation.
@Suite struct AnalysisE2ETests {
    static var prometheusURL: String {
        get throws {
            let port = try String(contentsOfFile: try TestCluster.directory + "/prometheus.port", encoding: .utf8)
            return "http://127.0.0.1:" + port.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    /// The example templates, tuned for a test: measurements every 2 s.
    static func templates(prometheus: String) throws -> [JSONValue] {
        try TestCluster.example("analysis-templates.yaml").map { doc in
            var t = doc
            t = t.overlaid(with: ["spec": ["args": .array(argsWith(doc["spec"]?["args"], prometheus: prometheus))]])
            guard case .array(var metrics)? = t["spec"]?["metrics"] else { return t }
            for i in metrics.indices {
                metrics[i] = metrics[i].overlaid(with: ["interval": "2s", "initialDelay": "2s", "count": 5])
            }
            return t.overlaid(with: ["spec": ["metrics": .array(metrics)]])
        }
    }

    static func argsWith(_ args: JSONValue?, prometheus: String) -> [JSONValue] {
        guard case .array(let list)? = args else { return [] }
        return list.map { $0["name"] == "prometheus" ? ["name": "prometheus", "value": .string(prometheus)] : $0 }
    }

    struct Setup {
        let client: KubeClient
        let ns: String
        let probe: RolloutProbe
        let controller: ControllerProcess
    }

    /// A namespace with the example analysis canary, deployed and Healthy at 1.0.
    func start(_ prefix: String, templates: [JSONValue]? = nil, rollout edit: (JSONValue) -> JSONValue = { $0 },
               before: (KubeClient, String) async throws -> Void = { _, _ in }) async throws -> Setup {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace(prefix, client: client)
        try await before(client, ns)
        let prometheus = try Self.prometheusURL
        for t in try templates ?? Self.templates(prometheus: prometheus) {
            let _: JSONValue = try await client.create(AnalysisTemplate.resource, t, namespace: ns)
        }
        for doc in try TestCluster.example("canary-analysis-rollout.yaml") {
            if doc["kind"] == "Rollout" {
                var text = String(decoding: try JSONEncoder().encode(doc), as: UTF8.self)
                text = text.replacingOccurrences(of: "http:\\/\\/prometheus.monitoring.svc:9090", with: prometheus)
                    .replacingOccurrences(of: "http://prometheus.monitoring.svc:9090", with: prometheus)
                let r = edit(try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)))
                let _: JSONValue = try await client.create(Rollout.resource, r, namespace: ns)
            } else {
                let _: JSONValue = try await client.create(.services, doc, namespace: ns)
            }
        }
        let controller = try ControllerProcess(namespace: ns)
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("1.0 to be Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == $0.spec.replicas }
        return Setup(client: client, ns: ns, probe: probe, controller: controller)
    }

    func finish(_ s: Setup) async {
        s.controller.kill()
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    /// A new version: its image, and the simulator's error rate and latency for its pods.
    func release(_ p: RolloutProbe, image: String, errorRate: Double, latency: String) async throws {
        let r = try await p.rollout()
        let template = (r.spec.template ?? [:]).overlaid(with: [
            "metadata": ["annotations": ["podsim.aviary.dev/error-rate": .string(String(errorRate)), "podsim.aviary.dev/latency": .string(latency)]],
        ])
        guard case .object(var t) = template, case .object(var spec)? = t["spec"], case .array(var containers)? = spec["containers"],
              case .object(var c)? = containers.first else { return }
        c["image"] = .string(image)
        containers[0] = .object(c)
        spec["containers"] = .array(containers)
        t["spec"] = .object(spec)
        let _: JSONValue = try await p.client.patch(Rollout.resource, p.name, namespace: p.namespace, .merge(["spec": ["template": .object(t)]]))
    }

    func run(_ s: Setup, _ name: String) async throws -> AnalysisRun {
        try await s.client.get(AnalysisRun.resource, name, namespace: s.ns)
    }

    @Test func aGoodVersionIsPromotedAndABadOneAbortedByMetrics() async throws {
        let s = try await start("analysis")
        let p = s.probe

        // A good version: no errors, 20 ms. The analysis step passes and the update completes.
        let first = try await p.rollout().status?.stableRS
        try await release(p, image: "registry.example/web:2.0", errorRate: 0, latency: "20ms")
        try await p.wait("2.0 promoted through analysis", timeout: .seconds(90)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS != first && $0.status?.stableRS == $0.status?.currentPodHash
        }
        let good = try await p.rollout().status?.stableRS ?? ""
        let stepRun = try await run(s, "web-\(good)-1")
        #expect(stepRun.phase == .Successful)
        let rate = try #require(stepRun.status?.result("success-rate"))
        #expect(rate.count == 5 && rate.successful == 5)
        #expect(rate.measurements?.last?.value == "[1]", "the measured value is shown: \(rate.measurements?.last?.value ?? "none")")
        let latency = try #require(stepRun.status?.result("p95-latency")?.measurements?.last?.value)
        #expect(latency.hasPrefix("[0.0"), "p95 of 20 ms requests is in the first bucket: \(latency)")
        #expect(stepRun.status?.summary?.contains("success-rate=[1]") == true)
        #expect(try await p.events().contains { $0.reason == "AnalysisRunSuccessful" })

        // A bad version: half its requests fail. The step's analysis fails after failureLimit + 1 = 4 failures.
        try await release(p, image: "registry.example/web:3.0", errorRate: 0.5, latency: "20ms")
        try await p.wait("3.0 aborted by analysis", timeout: .seconds(90)) { $0.status?.abort == true && $0.status?.phase == .Degraded }
        let aborted = try await p.rollout()
        let badHash = aborted.status?.currentPodHash ?? ""
        let badRun = try await run(s, "web-\(badHash)-1")
        #expect(badRun.phase == .Failed)
        let failed = try #require(badRun.status?.result("success-rate"))
        #expect(failed.failed == 4, "aborted at the 4th failure, not later: \(failed.failed ?? 0) failures in \(failed.count ?? 0) measurements")
        // initialDelay 2 s + 3 more intervals of 2 s, plus a scrape or two of slack.
        if let started = badRun.status?.startedAt, let done = badRun.status?.completedAt {
            #expect(done.secondsSinceEpoch - started.secondsSinceEpoch <= 12, "judged within the expected intervals")
        }
        let message = aborted.status?.message ?? ""
        #expect(message.contains("analysis run web-\(badHash)-1 Failed: success-rate: [0.5] did not satisfy len(result) == 0 || result[0] >= 0.95 (4 failures > failureLimit 3)"),
                "the message names metric, value and condition: \(message)")
        let abortEvent = try await p.events().first { $0.reason == "RolloutAborted" }
        #expect(abortEvent?.message.contains("success-rate: [0.5] did not satisfy") == true)
        try await eventually("stable serving alone again") {
            let sz = try await p.sizes()
            return sz["registry.example/web:2.0"]?.available == 5
        }
        await finish(s)
    }

    @Test func aDeadPrometheusErrorsThenAbortsNamingTheAddress() async throws {
        let prometheus = try await LocalPrometheus.start()
        defer { prometheus.stop() }
        let templates: [JSONValue] = [[
            "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": "alive"],
            "spec": ["metrics": [[
                "name": "alive", "interval": "1s", "count": 60, "consecutiveErrorLimit": 2,
                "successCondition": "result[0] == 1",
                "provider": ["prometheus": ["address": .string(prometheus.url), "query": "vector(1)", "timeout": 2]],
            ]]],
        ]]
        let s = try await start("prom-dead", templates: templates) { r in
            r.setting(["spec", "strategy", "canary", "analysis"], to: nil)
                .setting(["spec", "strategy", "canary", "steps"], to: [["setWeight": 20], ["analysis": ["templates": [["templateName": "alive"]]]]])
        }
        let p = s.probe
        try await release(p, image: "registry.example/web:2.0", errorRate: 0, latency: "20ms")
        let hash = try await eventuallyValue("the analysis run to measure") { () -> String? in
            let r = try await p.rollout()
            guard let hash = r.status?.currentPodHash, let run = try? await run(s, "web-\(hash)-1"),
                  (run.status?.result("alive")?.successful ?? 0) >= 2 else { return nil }
            return hash
        }
        prometheus.stop()
        try await p.wait("abort after consecutive errors", timeout: .seconds(60)) { $0.status?.abort == true }
        let failed = try await run(s, "web-\(hash)-1")
        #expect(failed.phase == .Error)
        #expect(failed.status?.result("alive")?.consecutiveError == 3)
        let message = try await p.rollout().status?.message ?? ""
        #expect(message.contains("prometheus at \(prometheus.url)"), "the message names the address: \(message)")
        #expect(message.contains("(3 consecutive errors > consecutiveErrorLimit 2)"), "\(message)")
        await finish(s)
    }

    @Test func aSecretArgumentWorksAndIsNeverWrittenDown() async throws {
        let secretValue = "s3cr3t-\(UInt32.random(in: 100_000...999_999))"
        let prometheus = try Self.prometheusURL
        let templates: [JSONValue] = [[
            "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": "with-secret"],
            "spec": [
                "args": [["name": "token", "valueFrom": ["secretKeyRef": ["name": "metrics-token", "key": "token"]]]],
                "metrics": [[
                    // Prometheus echoes the token back as a label, so the measured value *is* the secret: it must be redacted.
                    "name": "echo", "successCondition": "len(result) > 0",
                    "provider": ["web": [
                        "url": .string(prometheus + "/api/v1/query?query=label_replace(vector(1),%22t%22,%22{{args.token}}%22,%22%22,%22%22)"),
                        "headers": [["key": "Authorization", "value": "Bearer {{args.token}}"]],
                        "jsonPath": "{$.data.result[0].metric.t}",
                    ]],
                ], [
                    // Bearer auth read from the same Secret (this Prometheus ignores it, but the header is sent).
                    "name": "authenticated", "successCondition": "result[0] == 1",
                    "provider": ["prometheus": [
                        "address": .string(prometheus), "query": "vector(1)",
                        "authentication": ["bearer": ["name": "metrics-token", "key": "token"]],
                    ]],
                ]],
            ],
        ]]
        try await TestCluster.installCRDs()
        let s = try await start("secret", templates: templates) { r in
            r.setting(["spec", "strategy", "canary", "analysis"], to: nil)
                .setting(["spec", "strategy", "canary", "steps"], to: [["setWeight": 20], ["analysis": ["templates": [["templateName": "with-secret"]]]]])
        }
        let secret = Secret(metadata: ObjectMeta(name: "metrics-token", namespace: s.ns), data: ["token": Data(secretValue.utf8).base64EncodedString()])
        let _: Secret = try await s.client.create(.secrets, secret, namespace: s.ns)
        let p = s.probe
        let first = try await p.rollout().status?.stableRS
        try await release(p, image: "registry.example/web:2.0", errorRate: 0, latency: "20ms")
        try await p.wait("promotion through the secret-using analysis", timeout: .seconds(60)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS != first && $0.status?.stableRS == $0.status?.currentPodHash
        }
        let runs = try await TestCluster.kubectl("-n", s.ns, "get", "analysisruns", "-o", "json")
        #expect(runs.contains("\"value\": \"*****\""), "the measured value was the secret, and is redacted")
        #expect(!runs.contains(secretValue), "the secret is not in any AnalysisRun")
        #expect(runs.contains("authenticated=[1]"), "the bearer-authenticated query ran")
        let events = try await TestCluster.kubectl("-n", s.ns, "get", "events", "-o", "json")
        #expect(!events.contains(secretValue), "the secret is not in any event")
        let rollout = try await TestCluster.kubectl("-n", s.ns, "get", "rollout", "web", "-o", "json")
        #expect(!rollout.contains(secretValue))
        s.controller.kill()
        let log = try String(contentsOfFile: s.controller.log, encoding: .utf8)
        #expect(!log.contains(secretValue), "the secret is not in the controller's log")
        await finish(s)
    }

    @Test func aJobMeasurementSucceedsWhenTheJobCompletesAndFailsWhenItFails() async throws {
        func template(_ name: String, exitCode: Int) -> JSONValue {
            [
                "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": .string(name)],
                "spec": ["metrics": [[
                    "name": "smoke",
                    "provider": ["job": [
                        "spec": ["backoffLimit": 0, "template": [
                            "metadata": ["annotations": ["podsim.aviary.dev/exit-code": .string(String(exitCode))]],
                            "spec": ["restartPolicy": "Never", "containers": [["name": "smoke", "image": "registry.example/smoke:1"]]],
                        ]],
                    ]],
                ]]],
            ]
        }
        let s = try await start("job", templates: [template("smoke-ok", exitCode: 0), template("smoke-bad", exitCode: 1)]) { r in
            r.setting(["spec", "strategy", "canary", "analysis"], to: nil)
                .setting(["spec", "strategy", "canary", "steps"], to: [["setWeight": 20], ["analysis": ["templates": [["templateName": "smoke-ok"]]]],
                                                                       ["analysis": ["templates": [["templateName": "smoke-bad"]]]]])
        }
        let p = s.probe
        try await release(p, image: "registry.example/web:2.0", errorRate: 0, latency: "20ms")
        try await p.wait("the failing job to abort the update", timeout: .seconds(90)) { $0.status?.abort == true }
        let hash = try await p.rollout().status?.currentPodHash ?? ""
        let ok = try await run(s, "web-\(hash)-1")
        #expect(ok.phase == .Successful)
        #expect(ok.status?.result("smoke")?.measurements?.last?.message?.hasSuffix("completed") == true)
        let bad = try await run(s, "web-\(hash)-2")
        #expect(bad.phase == .Failed)
        #expect(try await p.rollout().status?.message?.contains("job web-\(hash)-2.smoke.1 failed") == true)
        await finish(s)
    }
}

/// Polls until `produce` gives a value.
func eventuallyValue<T: Sendable>(_ what: String, timeout: Duration = .seconds(30), _ produce: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let v = try await produce() { return v }
        try await Task.sleep(for: .milliseconds(200))
    }
    Issue.record("timed out after \(timeout) waiting for \(what)")
    throw CancellationError()
}

/// A Prometheus of the test's own, so stopping it affects no other test.
final class LocalPrometheus: @unchecked Sendable {
    let process = Process()
    let url: String
    let dir: String

    static func start() async throws -> LocalPrometheus {
        let p = try LocalPrometheus()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let r = try? await CurlEngine.shared.perform(HTTPRequest(method: "GET", url: p.url + "/-/ready", timeout: .seconds(2))),
               r.status == 200 { return p }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw KubeError.config("test prometheus did not become ready at \(p.url)")
    }

    private init() throws {
        dir = NSTemporaryDirectory() + "aviary-prom-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let port = Int.random(in: 20_000...29_999)
        url = "http://127.0.0.1:\(port)"
        try "global: {scrape_interval: 10s}\n".write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = ["--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data", "--web.listen-address=127.0.0.1:\(port)"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: dir)
    }
}
