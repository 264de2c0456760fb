import AviaryAPI
import Foundation
import Kube
import Testing

/// `aviary report` end to end: the real controller runs a canary whose
/// analysis step asks the real Prometheus, one release promoted and one
/// aborted by the analysis; then the built `aviary report` reads the
/// cluster and Prometheus' range API and its (normalised) output is checked.
@Suite struct ReportE2ETests {
    struct Setup {
        let client: KubeClient
        let ns: String
        let probe: RolloutProbe
        let controller: ControllerProcess
    }

    /// A namespace with a 2-replica canary [setWeight 50, analysis], Healthy at 1.0, and two
    /// templates asking Prometheus for a constant: `fine` (1) and `broken` (0.5, below its 0.95).
    func start(_ prefix: String) async throws -> Setup {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace(prefix, client: client)
        let prometheus = try AnalysisE2ETests.prometheusURL
        for (name, value) in [("fine", "1"), ("broken", "0.5")] {
            let template: JSONValue = [
                "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": .string(name)],
                "spec": ["metrics": [[
                    "name": "quality", "interval": "1s", "count": 3, "failureLimit": 0, "successCondition": "result[0] >= 0.95",
                    "provider": ["prometheus": ["address": .string(prometheus), "query": .string("vector(\(value))"), "timeout": 3]],
                ]]],
            ]
            let _: JSONValue = try await client.create(AnalysisTemplate.resource, template, namespace: ns)
        }
        for doc in try TestCluster.example("canary-rollout.yaml") {
            if doc["kind"] == "Rollout" {
                let r = doc.setting(["spec", "replicas"], to: 2)
                    .setting(["spec", "strategy", "canary", "steps"], to: Self.steps("fine"))
                    .setting(["spec", "strategy", "canary", "abortScaleDownDelaySeconds"], to: 0)
                let _: JSONValue = try await client.create(Rollout.resource, r, namespace: ns)
            } else {
                let _: JSONValue = try await client.create(.services, doc, namespace: ns)
            }
        }
        let controller = try ControllerProcess(namespace: ns)
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("1.0 to be Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2 }
        return Setup(client: client, ns: ns, probe: probe, controller: controller)
    }

    static func steps(_ template: String) -> JSONValue {
        [["setWeight": 50], ["analysis": ["templates": [["templateName": .string(template)]]]]]
    }

    /// A new image, judged by the given template.
    func release(_ p: RolloutProbe, image: String, template: String) async throws {
        let r = try await p.rollout()
        guard case .object(var t)? = r.spec.template, case .object(var spec)? = t["spec"], case .array(var containers)? = spec["containers"],
              case .object(var c)? = containers.first else { throw KubeError.config("no container in the template") }
        c["image"] = .string(image)
        containers[0] = .object(c)
        spec["containers"] = .array(containers)
        t["spec"] = .object(spec)
        let _: JSONValue = try await p.client.patch(Rollout.resource, p.name, namespace: p.namespace, .merge([
            "spec": ["template": .object(t), "strategy": ["canary": ["steps": Self.steps(template)]]],
        ]))
    }

    /// `aviary report …` as a user runs it, and its output with times and hashes made constant.
    func report(_ s: Setup, _ args: [String]) async throws -> (status: Int32, output: String) {
        let run = try await runCommand(try ControllerProcess.debugBinary(),
                                       ["report", "web", "-n", s.ns, "--kubeconfig", try TestCluster.kubeconfigPath] + args)
        var text = run.output
        let hash = try await s.probe.rollout().status?.currentPodHash ?? "none"
        for (pattern, replacement) in [(#"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"#, "<time>"), (#"\b\d\d:\d\d:\d\d\b"#, "hh:mm:ss"),
                                       (#"\+\d+(m\d\d)?s\b"#, "+Ns"), (#"after \d+(m\d\d)?s\b"#, "after Ns"), (#"for \d+(m\d\d)?s\b"#, "for Ns")] {
            text = text.replacingOccurrences(of: pattern, with: replacement, options: .regularExpression)
        }
        return (run.status, text.replacingOccurrences(of: hash, with: "<hash>"))
    }

    @Test func aCanaryAbortedByPrometheusAnalysis() async throws {
        let s = try await start("report-abort")
        defer { s.controller.kill() }
        let p = s.probe
        try await release(p, image: "registry.example/web:2.0", template: "broken")
        try await p.wait("2.0 aborted by its analysis", timeout: .seconds(90)) { $0.status?.abort == true && $0.status?.phase == .Degraded }
        try await eventually("the canary scaled away") { try await p.sizes()["registry.example/web:2.0"]?.desired ?? 0 == 0 }
        // Prometheus' samples of the window: vector(…) answers at every step up to now.
        try await Task.sleep(for: .seconds(2))

        let text = try await report(s, [])
        #expect(text.status == 0, "\(text.output)")
        let out = text.output
        for line in [
            "Rollout \(s.ns)/web: update to revision 2, aborted\n",
            "Before:      revision 1: registry.example/web:1.0 (ReplicaSet web-",
            "After:       revision 2: registry.example/web:2.0 (ReplicaSet web-<hash>)\n",
            "Aborted:     <time> (after Ns)\n",
            "Trigger:     analysis run web-<hash>-1 Failed on metric quality\n",
            "  measured:  [0.5]",
            "  condition: success when result[0] >= 0.95\n",
            "  counted:   1 failed of 1 measurements (failureLimit 0)\n",
            "Traffic:     registry.example/web:2.0 had up to 50% of the traffic for Ns until traffic was back on stable\n",
            "  hh:mm:ss  +Ns    update started: revision 2 (registry.example/web:2.0), replacing revision 1 (registry.example/web:1.0)\n",
            "Rollout step 1/2 completed (setWeight 50)\n",
            "Started analysis run web-<hash>-1 (step 2)\n",
            "⚠ Analysis run web-<hash>-1 failed: quality: [0.5] did not satisfy result[0] >= 0.95",
            "⚠ Rollout aborted update to revision 2: analysis run web-<hash>-1 Failed: quality: [0.5] did not satisfy",
            "rollback finished: Scaled down ReplicaSet web-<hash> from 1 to 0\n",
            "Metrics over the update (Prometheus range query)\n",
            "query: vector(0.5)\n",
            "Warning  RolloutAborted",
        ] {
            #expect(out.contains(line), "missing \(line.debugDescription) in:\n\(out)")
        }
        // The series: a flat 0.5, drawn as a sparkline of one level, with its numbers.
        let seriesLine = out.split(separator: "\n").first { $0.hasPrefix("  quality  ") }.map(String.init) ?? ""
        #expect(seriesLine.contains("▄▄▄") && seriesLine.contains("min 0.5  max 0.5  last 0.5") && seriesLine.contains(" points, every "), "\(out)")
        let order = ["update started", "Rollout step 1/2 completed", "Started analysis run web-<hash>-1", "Analysis run web-<hash>-1 failed",
                     "Rollout aborted update", "rollback finished"].map { out.range(of: $0)?.lowerBound }
        #expect(order.allSatisfy { $0 != nil } && zip(order, order.dropFirst()).allSatisfy { a, b in a.map { a in b.map { a < $0 } ?? false } ?? false },
                "the timeline is in time order:\n\(out)")

        let md = try await report(s, ["-o", "markdown"])
        #expect(md.output.contains("## Rollout \(s.ns)/web: update to revision 2, aborted") && md.output.contains("| Time | After | Value |")
                && md.output.contains("| 0.5 |"), "\(md.output)")
        let json = try await report(s, ["-o", "json"])
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(json.output.utf8))
        #expect(decoded["outcome"] == "aborted" && decoded["traffic"]?["maxWeight"] == 50)
        guard case .array(let series)? = decoded["series"] else { Issue.record("no series in -o json: \(json.output)"); return }
        #expect(series.first?["metric"] == "quality")

        // Prometheus not reachable from here: said, and the rest still rendered.
        let dead = try await report(s, ["--prometheus-address", "http://127.0.0.1:9"])
        #expect(dead.status == 0 && dead.output.contains("Prometheus not reachable at http://127.0.0.1:9") && dead.output.contains("Trigger:"), "\(dead.output)")
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    @Test func aPromotedCanaryAndTheMessagesWithoutAnUpdate() async throws {
        let s = try await start("report-promote")
        defer { s.controller.kill() }
        let p = s.probe
        // Before any update: nothing to report, and it says what to do.
        let none = try await report(s, [])
        #expect(none.status != 0 && none.output.contains("has had no update yet") && none.output.contains("kubectl aviary set image web"), "\(none.output)")
        let missing = try await runCommand(try ControllerProcess.debugBinary(), ["report", "nope", "-n", s.ns, "--kubeconfig", try TestCluster.kubeconfigPath])
        #expect(missing.status != 0 && missing.output.contains("no rollout nope in namespace \(s.ns)"), "\(missing.output)")

        let first = try await p.rollout().status?.stableRS
        try await release(p, image: "registry.example/web:2.0", template: "fine")
        try await p.wait("2.0 promoted through analysis", timeout: .seconds(90)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS != first && $0.status?.stableRS == $0.status?.currentPodHash
        }
        try await Task.sleep(for: .seconds(2))
        let text = try await report(s, [])
        let out = text.output
        #expect(text.status == 0, "\(out)")
        for line in [
            "Rollout \(s.ns)/web: update to revision 2, promoted\n",
            "After:       revision 2: registry.example/web:2.0 (ReplicaSet web-<hash>)\n",
            "Promoted:    <time> (after Ns)\n",
            "Rollout step 1/2 completed (setWeight 50)\n",
            "Started analysis run web-<hash>-1 (step 2)\n",
            "Analysis run web-<hash>-1 succeeded\n",
            "Promoted ReplicaSet web-<hash> (revision 2) to stable\n",
            "query: vector(1)\n",
        ] {
            #expect(out.contains(line), "missing \(line.debugDescription) in:\n\(out)")
        }
        #expect(!out.contains("Trigger:") && !out.contains("Traffic:"), "\(out)")
        let seriesLine = out.split(separator: "\n").first { $0.hasPrefix("  quality  ") }.map(String.init) ?? ""
        #expect(seriesLine.contains("▄▄▄") && seriesLine.contains("last 1"), "\(out)")
        // Revision 1 was the first deployment: no update to report.
        let one = try await report(s, ["--revision", "1"])
        #expect(one.status != 0 && one.output.contains("no update yet"), "\(one.output)")
        let seven = try await report(s, ["--revision", "7"])
        #expect(seven.status != 0 && seven.output.contains("no revision 7: the revisions there are: 1, 2"), "\(seven.output)")
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }
}
