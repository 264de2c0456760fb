import Analysis
import AviaryAPI
import Foundation
import Kube
import Testing

/// A verdict across metrics and the built-in `pods` provider, end to end:
/// the real controller measures the simulator's pods (restarts and
/// termination reasons set by annotation), with no Prometheus involved.
@Suite struct VerdictPodsE2ETests {
    let base = AnalysisE2ETests()

    /// A template of `pods` metrics, each measured every second, `count` times.
    static func template(_ name: String, verdict: String? = nil, count: Int = 3, _ metrics: [(String, String)]) -> JSONValue {
        var spec: JSONValue = ["metrics": .array(metrics.map { m in
            ["name": .string(m.0), "interval": "1s", "count": .number(Double(count)), "successCondition": .string(m.1), "provider": ["pods": [:]]]
        })]
        if let verdict { spec = spec.setting(["verdict"], to: .string(verdict)) }
        return ["apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": .string(name)], "spec": spec]
    }

    /// One analysis step at 20 %, no background analysis.
    static func steps(_ template: String) -> (JSONValue) -> JSONValue {
        { r in
            r.setting(["spec", "strategy", "canary", "analysis"], to: nil)
                .setting(["spec", "strategy", "canary", "steps"], to: [["setWeight": 20], ["analysis": ["templates": [["templateName": .string(template)]]]]])
        }
    }

    /// A new image whose pods the simulator dresses with these annotations.
    func release(_ p: RolloutProbe, image: String, annotations: [String: String]) async throws {
        let r = try await p.rollout()
        var template = (r.spec.template ?? [:]).overlaid(with: ["metadata": ["annotations": .object(annotations.mapValues(JSONValue.string))]])
        guard case .array(var containers)? = template["spec"]?["containers"], let first = containers.first else { return }
        containers[0] = first.setting(["image"], to: .string(image))
        template = template.setting(["spec", "containers"], to: .array(containers))
        let _: JSONValue = try await p.client.patch(Rollout.resource, p.name, namespace: p.namespace, .merge(["spec": ["template": template]]))
    }

    @Test func aVerdictPassesWhenOneOfTwoAlternativesFails() async throws {
        let t = Self.template("alternatives", verdict: "alive && (strict || relaxed)", [
            ("alive", "result.ready >= 1"), ("strict", "result.restarts == 0"), ("relaxed", "result.maxRestarts <= 5"),
        ])
        let s = try await base.start("verdict", templates: [t], rollout: Self.steps("alternatives"))
        let p = s.probe
        let first = try await p.rollout().status?.stableRS
        // Two restarts per container: `strict` fails, `relaxed` holds, so the verdict does.
        try await release(p, image: "registry.example/web:2.0", annotations: ["podsim.aviary.dev/restarts": "2"])
        try await p.wait("2.0 promoted by the verdict", timeout: .seconds(90)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS != first && $0.status?.stableRS == $0.status?.currentPodHash
        }
        let hash = try await p.rollout().status?.stableRS ?? ""
        let run = try await base.run(s, "web-\(hash)-1")
        #expect(run.phase == .Successful)
        #expect(run.spec.verdict == "alive && (strict || relaxed)", "the template's verdict is copied into the run")
        #expect(run.status?.result("strict")?.phase == .Failed, "a metric may fail without failing the run")
        let message = run.status?.message ?? ""
        #expect(message.hasPrefix("verdict \"alive && (strict || relaxed)\" is true, decided by alive Successful; relaxed Successful; not deciding: strict Failed"),
                "the message says which metrics decided: \(message)")
        #expect(run.status?.result("relaxed")?.measurements?.last?.value?.contains("maxRestarts:2") == true)
        await base.finish(s)
    }

    /// The simulator's crash annotations, as stored by the API server, read by the provider's summary.
    @Test func podsimCrashesAndPullFailuresReadAsThePodsResult() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("podsim-crash", client: client)
        let sim = PodSimTests()
        let _: JSONValue = try await client.create(.replicaSets, sim.replicaSet("looping", replicas: 2, annotations: [
            "podsim.aviary.dev/waiting-reason": "CrashLoopBackOff", "podsim.aviary.dev/restarts": "3", "podsim.aviary.dev/termination-reason": "Error",
        ]), namespace: ns)
        let _: JSONValue = try await client.create(.replicaSets, sim.replicaSet("pulling", replicas: 1, annotations: [
            "podsim.aviary.dev/waiting-reason": "ImagePullBackOff",
        ]), namespace: ns)
        let health = try await eventuallyValue("the simulator to dress the pods") { () -> JSONValue? in
            let pods: ObjectList<Pod> = try await client.list(.pods, namespace: ns)
            let h = PodHealth.summary(pods.items)
            // (A bare nil would be JSONValue's null, not "not yet".)
            guard h["crashLooping"] == 2, h["imagePullFailures"] == 1 else { return Optional<JSONValue>.none }
            return h
        }
        #expect(health == .object([
            "pods": 3, "ready": 0, "notReady": 3, "restarts": 6, "maxRestarts": 3, "oomKilled": 0, "crashLooping": 2, "imagePullFailures": 1,
            "terminationReasons": ["Error": 2], "waitingReasons": ["CrashLoopBackOff": 2, "ImagePullBackOff": 1],
        ]))
        let pulling: ObjectList<Pod> = try await client.list(.pods, namespace: ns, options: ListOptions(labelSelector: "app=pulling"))
        #expect(pulling.items.first?.status?.phase == "Pending", "a pod whose image cannot be pulled does not run")
        await TestCluster.deleteNamespace(ns, client: client)
    }

    @Test func aRunWrittenByHandWithAnUnknownNameEndsInErrorSayingWhere() async throws {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("verdict-bad", client: client)
        let controller = try ControllerProcess(namespace: ns)
        let run: JSONValue = [
            "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisRun", "metadata": ["name": "by-hand"],
            "spec": ["verdict": "alive || nope", "metrics": [["name": "alive", "provider": ["pods": ["podTemplateHash": "abc"]]]]],
        ]
        let _: JSONValue = try await client.create(AnalysisRun.resource, run, namespace: ns)
        let ended = try await eventuallyValue("the run to end") { () -> AnalysisRun? in
            let r: AnalysisRun = try await client.get(AnalysisRun.resource, "by-hand", namespace: ns)
            return r.phase.isTerminal ? r : nil
        }
        #expect(ended.phase == .Error)
        #expect(ended.status?.message == "verdict: column 10: unknown metric \"nope\"; the metrics are alive", "\(ended.status?.message ?? "")")
        controller.kill()
        await TestCluster.deleteNamespace(ns, client: client)
    }

    @Test func aCrashingCanaryIsAbortedByThePodsProvider() async throws {
        let t = Self.template("crashes", count: 5, [("crashes", "result.restarts <= 5 && result.oomKilled == 0")])
        let s = try await base.start("pods-crash", templates: [t], rollout: Self.steps("crashes"))
        let p = s.probe
        // Ready, but restarted 6 times, the last time killed for memory.
        try await release(p, image: "registry.example/web:2.0", annotations: [
            "podsim.aviary.dev/restarts": "6", "podsim.aviary.dev/termination-reason": "OOMKilled",
        ])
        try await p.wait("2.0 aborted by the pods provider", timeout: .seconds(90)) { $0.status?.abort == true && $0.status?.phase == .Degraded }
        let hash = try await p.rollout().status?.currentPodHash ?? ""
        let run = try await base.run(s, "web-\(hash)-1")
        #expect(run.phase == .Failed)
        let value = run.status?.result("crashes")?.measurements?.last?.value ?? ""
        #expect(!value.contains("oomKilled:0") && value.contains("terminationReasons:{OOMKilled:"), "the pods' health is shown: \(value)")
        let message = try await p.rollout().status?.message ?? ""
        #expect(message.contains("analysis run web-\(hash)-1 Failed: crashes: "), "\(message)")
        #expect(message.contains("did not satisfy result.restarts <= 5 && result.oomKilled == 0"), "\(message)")
        try await eventually("stable serving alone again") {
            let sz = try await p.sizes()
            return sz["registry.example/web:1.0"]?.available == 5
        }
        await base.finish(s)
    }
}
