import AviaryAPI
import Foundation
import Kube
import Rollouts
import Testing
import TestSupport

/// examples/rollback-triggers.yaml, each row of the ops documents' table for
/// real: the example's template, notification ConfigMap, Services and
/// Rollout as written, with shorter windows (its arguments), intervals and
/// grace period, and a new version that podsim makes misbehave one way.
@Suite struct RollbackTriggersE2ETests {
    /// The example's 5m, 10m and 15m windows (and their initialDelays) in a test.
    static let window = "6s"

    struct Setup {
        let client: KubeClient
        let probe: RolloutProbe
        let controller: ControllerProcess
        var ns: String { probe.namespace }
    }

    /// How the test holds the canary at 50 %.
    enum Shape {
        /// As the example: row 3 (latency-alert) as the analysis step at 50 %, judged after the window.
        case p95Step
        /// The same, but the step's p95 measured only after an hour, so the update holds at 50 % for the other rows.
        case holdAt50
        /// Row 3 in the background beside the others, the weight held by a pause step.
        case p95InBackground
    }

    /// A template as the example writes it, its timings shortened: every
    /// interval 2 s, every initialDelay the test window (latency-alert's an
    /// hour for `holdAt50`), the grace period `grace`.
    static func shortened(_ template: JSONValue, grace: String, shape: Shape) -> JSONValue {
        guard case .array(let metrics)? = template["spec"]?["metrics"] else { return template }
        let tuned: [JSONValue] = metrics.map { m in
            var m = m
            if m["interval"] != nil { m = m.overlaid(with: ["interval": "2s"]) }
            if m["initialDelay"] != nil {
                let hold = shape == .holdAt50 && template["metadata"]?["name"] == "latency-alert"
                m = m.overlaid(with: ["initialDelay": .string(hold ? "1h" : window)])
            }
            if m["onFailure"]?["notify"] != nil { m = m.overlaid(with: ["onFailure": ["thenAbortAfter": .string(grace)]]) }
            if shape == .p95InBackground, template["metadata"]?["name"] == "latency-alert" {
                // In the background the run starts with the canary's pods, before they serve: one measurement
                // after the window (the example's count 1) can come before the slow traffic has filled it on a
                // loaded machine, and then passes. Measured every 2 s until it has.
                m = m.overlaid(with: ["count": 60, "interval": "2s"])
            }
            return m
        }
        return template.setting(["spec", "metrics"], to: .array(tuned))
    }

    /// A namespace holding the example, version 1.0 deployed and Healthy, a controller for it.
    func setUp(_ prefix: String, receiver: RecordingReceiver? = nil, grace: String = "6s", shape: Shape = .holdAt50) async throws -> Setup {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace(prefix, client: client)
        let prometheus = try AnalysisE2ETests.prometheusURL
        for doc in try TestCluster.example("rollback-triggers.yaml") {
            switch doc["kind"]?.stringValue {
            case "AnalysisTemplate":
                let _: JSONValue = try await client.create(AnalysisTemplate.resource, Self.shortened(doc, grace: grace, shape: shape), namespace: ns)
            case "ConfigMap":
                // The controller runs for this namespace, so the example's ConfigMap is its configuration.
                let url = receiver.map { "url: \($0.url("/oncall"))\n" } ?? "url: http://127.0.0.1:9/unused\n"
                let _: JSONValue = try await client.create(.configMaps, doc.overlaid(with: ["data": ["service.webhook.oncall": .string(url)]]), namespace: ns)
            case "Service":
                let _: JSONValue = try await client.create(.services, doc, namespace: ns)
            case "Rollout":
                // 4 pods, 2 of them canary at 50 % (the example starts at 20 % of 5), shorter windows.
                let args: JSONValue = [
                    ["name": "service", "value": "web"], ["name": "prometheus", "value": .string(prometheus)],
                    ["name": "rate-window", "value": "4s"], ["name": "error-window", "value": .string(Self.window)],
                    ["name": "latency-window", "value": .string(Self.window)], ["name": "memory-window", "value": .string(Self.window)],
                ]
                let latency: JSONValue = ["templates": [["templateName": "latency-alert"]], "args": args]
                let background: JSONValue = ["templates": shape == .p95InBackground
                    ? [["templateName": "rollback-triggers"], ["templateName": "latency-alert"]] : [["templateName": "rollback-triggers"]], "args": args]
                let steps: JSONValue = shape == .p95InBackground ? [["setWeight": 50], ["pause": ["duration": "1h"]]] : [["setWeight": 50], ["analysis": latency]]
                let r = doc.overlaid(with: ["spec": ["replicas": 4]])
                    .setting(["spec", "strategy", "canary", "steps"], to: steps)
                    .setting(["spec", "strategy", "canary", "analysis"], to: background)
                let _: JSONValue = try await client.create(Rollout.resource, r, namespace: ns)
            default:
                Issue.record("examples/rollback-triggers.yaml holds a \(doc["kind"]?.stringValue ?? "document without kind") the test does not know")
            }
        }
        let controller = try ControllerProcess(namespace: ns)
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("1.0 Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 4 }
        return Setup(client: client, probe: probe, controller: controller)
    }

    /// Version 2.0, whose pods podsim runs with these annotations.
    func release(_ s: Setup, _ annotations: [String: String]) async throws {
        let r = try await s.probe.rollout()
        let template = (r.spec.template ?? [:]).overlaid(with: ["metadata": ["annotations": .object(annotations.mapValues { .string($0) })]])
            .setting(["spec", "containers"], to: .array(r.spec.template?["spec"]?["containers"]?.arrayValue?.enumerated().map { i, c in
                i == 0 ? c.overlaid(with: ["image": "registry.example/web:2.0"]) : c
            } ?? []))
        let _: JSONValue = try await s.client.patch(Rollout.resource, "web", namespace: s.ns, .merge(["spec": ["template": template]]))
    }

    /// The background run's metric results, by name.
    func results(_ s: Setup) async throws -> [String: MetricResult] {
        let name = try #require(try await s.probe.rollout().status?.canary?.currentBackgroundAnalysisRunStatus?.name)
        let run: AnalysisRun = try await s.client.get(AnalysisRun.resource, name, namespace: s.ns)
        return Dictionary((run.status?.metricResults ?? []).map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// An immediate rollback: aborted, weight 0 at once (no gradual rollback), never held, decided by `metric` alone.
    func expectImmediateAbort(_ s: Setup, by metric: String, within limit: Duration) async throws {
        let start = ContinuousClock.now
        var held = false
        try await s.probe.wait("aborted by \(metric)", timeout: limit) { r in
            if r.status?.pauseConditions?.contains(where: { $0.reason == .AnalysisEscalation }) == true { held = true }
            return r.status?.abort == true
        }
        #expect(!held, "an immediate rollback never holds")
        let r = try await s.probe.rollout()
        #expect(r.status?.canary?.rollback == nil, "immediate: no gradual rollback")
        #expect((r.status?.canary?.weights.map { $0.canary.weight } ?? 0) == 0)
        #expect(r.status?.message?.contains(metric) == true, "\(r.status?.message ?? "")")
        let failed = try await results(s).filter { $0.value.phase == .Failed || $0.value.phase == .Error }.map(\.key)
        #expect(failed == [metric], "only \(metric) failed: \(failed)")
        #expect(ContinuousClock.now - start < limit)
    }

    // Row 1: error rate > 5 % for 5 m → immediate rollback.
    @Test func errorsAbortAtOnce() async throws {
        let s = try await setUp("rt-errors")
        defer { s.controller.kill() }
        try await release(s, ["podsim.aviary.dev/error-rate": "0.5"])
        try await expectImmediateAbort(s, by: "error-rate", within: .seconds(90))
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    // Row 2: health check failing more than 3 times → immediate rollback, at the 4th failed check.
    @Test func aCanaryThatNeverBecomesReadyAbortsAtTheFourthFailedCheck() async throws {
        let s = try await setUp("rt-health")
        defer { s.controller.kill() }
        try await release(s, ["podsim.aviary.dev/ready": "false"])
        try await expectImmediateAbort(s, by: "health", within: .seconds(90))
        let health = try #require(try await results(s)["health"])
        #expect(health.failed == 4, "failureLimit 3: the 4th failed check decides (\(health.failed ?? -1))")
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    // Row 5: restarts > 5 → immediate rollback.
    @Test func aCanaryThatRestartsAbortsAtOnce() async throws {
        let s = try await setUp("rt-restarts")
        defer { s.controller.kill() }
        try await release(s, ["podsim.aviary.dev/restarts": "6"])
        try await expectImmediateAbort(s, by: "restarts", within: .seconds(90))
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    // Row 4: memory > 90 % for 15 m → gradual rollback: the weight steps down (25 every 30 s by default).
    @Test func memoryAbove90PercentRollsBackGradually() async throws {
        let s = try await setUp("rt-memory")
        defer { s.controller.kill() }
        try await release(s, ["podsim.aviary.dev/memory": "0.95"])
        try await s.probe.wait("aborted, rolling back from 50", timeout: .seconds(90)) {
            $0.status?.abort == true && $0.status?.canary?.rollback?.weight == 50
        }
        let all = try await results(s)
        let failed = all.filter { $0.value.phase == .Failed }.map(\.key)
        let canary = try await s.probe.rollout().status?.canary
        #expect(failed == ["memory"], "\(all.mapValues { "\($0.phase) \($0.message ?? "")" }) \(String(describing: canary))")
        #expect(try await s.probe.rollout().status?.pauseConditions?.isEmpty ?? true)
        try await s.probe.wait("one step down, to 25", timeout: .seconds(90)) { $0.status?.canary?.rollback?.weight == 25 }
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    /// Row 3 up to the hold: the alert reached the receiver, naming the metric, its value and what to do.
    func expectAlert(_ s: Setup, _ receiver: RecordingReceiver) async throws {
        // Generous: with the whole suite running at once on two cores, the window, the scrapes and the run take their time.
        try await s.probe.wait("held on the failed p95", timeout: .seconds(150)) {
            $0.status?.pauseConditions?.contains { $0.reason == .AnalysisEscalation } == true
        }
        let page = try #require(await receiver.waitFor(count: 1, timeout: .seconds(15)).first)
        let body = try JSONDecoder().decode(JSONValue.self, from: Data(page.body))
        let text = body["message"]?.stringValue ?? ""
        #expect(text.contains("\(s.ns)/web revision 2: p95 latency above 2 s"), "\(text)")
        #expect(text.contains("p95-latency measured ["), "\(text)")
        #expect(text.contains("kubectl aviary ack web"), "\(text)")
        #expect(try await s.probe.rollout().status?.abort != true, "held, not aborted, during the grace period")
    }

    /// Row 3 to the end: after the grace period, an immediate rollback; one alert in all.
    func expectAbortAfterGrace(_ s: Setup, _ receiver: RecordingReceiver) async throws {
        var heldSince: Int64?
        try await s.probe.wait("aborted after the grace period", timeout: .seconds(60)) { r in
            if let p = r.status?.pauseConditions?.first(where: { $0.reason == .AnalysisEscalation }) { heldSince = p.startTime.secondsSinceEpoch }
            return r.status?.abort == true
        }
        // From the status' own times (the test may see the hold late on a loaded machine): the grace period
        // of 6 s (4 s for the ack test) passed between the hold and the abort, to the second.
        if let heldSince, let abortedAt = try await s.probe.rollout().status?.abortedAt?.secondsSinceEpoch {
            #expect(abortedAt - heldSince >= 4, "held at \(heldSince), aborted at \(abortedAt)")
        }
        #expect(try await s.probe.rollout().status?.canary?.rollback == nil, "then an immediate rollback")
        #expect(receiver.requests.count == 1, "one alert for one failure")
    }

    // Row 3: p95 > 2 s for 10 m → alert at once, then roll back after the grace period;
    // meanwhile the background rows keep watching.
    @Test func slowP95AlertsThenAbortsAfterTheGracePeriod() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let s = try await setUp("rt-p95", receiver: receiver, grace: "6s", shape: .p95Step)
        defer { s.controller.kill() }
        try await release(s, ["podsim.aviary.dev/latency": "3s"])
        try await expectAlert(s, receiver)
        let background = try await s.probe.rollout().status?.canary?.currentBackgroundAnalysisRunStatus
        #expect(background?.status == .Running, "the other rows keep watching during the hold: \(String(describing: background))")
        try await expectAbortAfterGrace(s, receiver)
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    // Row 3 in the background while a pause step holds the weight (not how the example runs it).
    @Test func slowP95AlertsDuringAPauseStep() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let s = try await setUp("rt-p95-bg", receiver: receiver, grace: "6s", shape: .p95InBackground)
        defer { s.controller.kill() }
        try await release(s, ["podsim.aviary.dev/latency": "3s"])
        // The alert does not wait for the pause step: the hold takes over, and the grace period runs from the failure.
        try await expectAlert(s, receiver)
        try await expectAbortAfterGrace(s, receiver)
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    // Row 3, acknowledged: `kubectl aviary ack` holds past the grace period until someone promotes.
    @Test func anAcknowledgedP95AlertHoldsUntilPromoted() async throws {
        let receiver = try RecordingReceiver()
        defer { receiver.stop() }
        let s = try await setUp("rt-p95-ack", receiver: receiver, grace: "4s", shape: .p95Step)
        defer { s.controller.kill() }
        try await release(s, ["podsim.aviary.dev/latency": "3s"])
        try await expectAlert(s, receiver)
        _ = try await s.client.perform(.ack, on: "web", namespace: s.ns)
        try await Task.sleep(for: .seconds(7))
        let r = try await s.probe.rollout()
        #expect(r.status?.abort != true, "acknowledged: not aborted after the grace period")
        #expect(r.status?.pauseConditions?.contains { $0.reason == .AnalysisEscalation } == true)
        try await s.probe.promote()
        try await s.probe.wait("promoted past the alert, completed") { $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash }
        #expect(receiver.requests.count == 1, "one alert for one failure")
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    /// The example as a user lints it.
    @Test func theExamplePassesLint() async throws {
        let (status, output) = try await runCommand(try ControllerProcess.debugBinary(), ["lint", "-f", "examples/rollback-triggers.yaml"])
        #expect(status == 0, "\(output)")
    }
}
