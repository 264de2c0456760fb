import AviaryAPI
import Foundation
import Kube
import Rollouts
import Testing

/// The canary strategy end to end: the real `aviary controller`, the real API
/// server and controller-manager, pods made Ready by the simulator.
@Suite struct CanaryE2ETests {
    typealias Setup = E2ESetup

    /// A namespace with the example canary (tuned for tests), deployed and Healthy at web:1.0.
    func start(_ prefix: String, edit: (inout [String: JSONValue]) -> Void = { _ in }) async throws -> Setup {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace(prefix, client: client)
        for doc in try TestCluster.example("canary-rollout.yaml") {
            if doc["kind"] == "Rollout", case .object(var r) = doc, case .object(var spec)? = r["spec"] {
                edit(&spec)
                r["spec"] = .object(spec)
                let _: JSONValue = try await client.create(Rollout.resource, JSONValue.object(r), namespace: ns)
            } else {
                let _: JSONValue = try await client.create(.services, doc, namespace: ns)
            }
        }
        let controller = try ControllerProcess(namespace: ns)
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("web:1.0 to be Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == $0.spec.replicas }
        let replicas = try await probe.rollout().spec.effectiveReplicas
        let sampler = ZeroDowntimeSampler(client: client, namespace: ns, minAvailable: replicas, services: ["web-stable", "web-canary"])
        await sampler.start()
        return Setup(client: client, ns: ns, probe: probe, controller: controller, sampler: sampler)
    }

    func finish(_ s: Setup) async { await s.finish() }

    func sizes(_ p: RolloutProbe) async throws -> (canary: Int, stable: Int) {
        let s = try await p.sizes()
        return (s["registry.example/web:2.0"]?.desired ?? 0, s["registry.example/web:1.0"]?.desired ?? 0)
    }

    @Test func theExampleWalksStepByStepAndWaitsForPromote() async throws {
        let s = try await start("walk")
        let p = s.probe
        try await p.setImage("registry.example/web:2.0")

        try await p.wait("setWeight 10, then the 5 s pause") { $0.status?.currentStepIndex == 1 && $0.status?.phase == .Paused }
        #expect(try await sizes(p) == (1, 9))
        try await p.wait("setWeight 30, then the indefinite pause") { $0.status?.currentStepIndex == 3 && $0.status?.phase == .Paused }
        #expect(try await sizes(p) == (3, 7))
        let paused = try await p.rollout()
        #expect(paused.status?.canary?.weights?.canary.weight == 30)
        #expect(paused.status?.pauseConditions?.first?.reason == .CanaryPauseStep)

        // It waits: nothing moves until promoted.
        try await Task.sleep(for: .seconds(3))
        #expect(try await p.rollout().status?.currentStepIndex == 3)
        #expect(try await sizes(p) == (3, 7))

        try await p.promote()
        try await eventually("the rollout to complete", timeout: .seconds(90)) {
            let (c, st) = try await sizes(p)
            let r = try await p.rollout()
            return r.status?.phase == .Healthy && r.status?.stableRS == r.status?.currentPodHash && st == 0 && c == 10
        }
        // setWeight 50 and 80 pass without a pause; the scaling events show their sizes.
        let scaled = try await p.events().filter { $0.reason == "ScalingReplicaSet" }.map(\.message)
        let hash = try await p.rollout().status?.stableRS ?? ""
        // (The stable side steps down as canary pods become available: maxUnavailable is 0.)
        for (side, to) in [("canary", 5), ("stable", 5), ("canary", 8), ("stable", 2), ("canary", 10), ("stable", 0)] {
            let ours = side == "canary"
            #expect(scaled.contains { $0.hasSuffix(" to \(to)") && $0.contains(hash) == ours }, "\(side) scaled to \(to): \(scaled)")
        }
        let final = try await p.sizes()
        #expect(final["registry.example/web:1.0"]?.desired == 0)
        #expect(final["registry.example/web:2.0"]?.available == 10)
        let svc: Service = try await s.client.get(.services, "web-stable", namespace: s.ns)
        #expect(svc.spec?.selector?[podTemplateHashLabel] == (try await p.rollout()).status?.stableRS)
        // Settled, an unchanged world makes no writes. Counted by the controller itself: every POST, PUT,
        // PATCH and DELETE it sent, answered or refused, events included. Once the completion's last
        // writes are out, the count holds still over a window of several seconds.
        var last = try await s.controller.apiWrites()
        #expect(last > 0, "the counter counts this controller's writes")
        try await eventually("the completion's last writes to land", timeout: .seconds(30)) {
            try await Task.sleep(for: .seconds(2))
            let now = try await s.controller.apiWrites()
            defer { last = now }
            return now == last
        }
        let settled = try await s.controller.apiWrites()
        try await Task.sleep(for: .seconds(5))
        let writes = try await s.controller.apiWrites() - settled
        #expect(writes == 0, "no writes while nothing changes: \(writes) in 5 s")

        let reasons = try await p.events().map(\.reason)
        for reason in ["NewReplicaSetCreated", "ScalingReplicaSet", "RolloutStepCompleted", "RolloutPaused", "RolloutResumed",
                       "SwitchService", "RolloutPromoted", "RolloutCompleted"] {
            #expect(reasons.contains(reason), "an event \(reason)")
        }
        await finish(s)
    }

    @Test func abortMidwayRestoresStable() async throws {
        let s = try await start("abort") { spec in
            if case .object(var strategy)? = spec["strategy"], case .object(var canary)? = strategy["canary"] {
                canary["abortScaleDownDelaySeconds"] = 2
                strategy["canary"] = .object(canary)
                spec["strategy"] = .object(strategy)
            }
        }
        let p = s.probe
        try await p.setImage("registry.example/web:2.0")
        try await p.wait("the indefinite pause at 30 %") { $0.status?.currentStepIndex == 3 && $0.status?.phase == .Paused }
        try await p.abort()
        try await p.wait("Degraded after the abort") { $0.status?.phase == .Degraded && $0.status?.message?.hasPrefix("RolloutAborted") == true }
        try await eventually("stable back to 10/10 and the canary at 0") {
            let sz = try await p.sizes()
            return sz["registry.example/web:1.0"]?.desired == 10 && sz["registry.example/web:1.0"]?.available == 10
                && sz["registry.example/web:2.0"]?.desired == 0
        }
        let r = try await p.rollout()
        #expect(r.status?.canary?.weights?.canary.weight == 0)
        let canarySvc: Service = try await s.client.get(.services, "web-canary", namespace: s.ns)
        #expect(canarySvc.spec?.selector?[podTemplateHashLabel] == r.status?.stableRS)
        #expect(try await p.events().contains { $0.reason == "RolloutAborted" })
        await finish(s)
    }

    @Test func aRestartedControllerContinuesFromStatus() async throws {
        var s = try await start("restart")
        let p = s.probe
        try await p.setImage("registry.example/web:2.0")
        try await p.wait("the 5 s pause") { $0.status?.currentStepIndex == 1 && $0.status?.phase == .Paused }
        // Events follow the status write; a kill in between would lose them (they are best effort), so wait for them.
        try await eventually("the step's events") { try await p.events().contains { $0.message.hasPrefix("Rollout step 1/6 completed") } }
        s.controller.kill()
        try await Task.sleep(for: .seconds(1))
        s.controller = try ControllerProcess(namespace: s.ns)
        try await p.wait("the indefinite pause, reached by the new controller") { $0.status?.currentStepIndex == 3 && $0.status?.phase == .Paused }
        try await eventually("the step's events") { try await p.events().contains { $0.message.hasPrefix("Rollout step 3/6 completed") } }
        // Kill it again while paused: a promote must still be honoured by the next one.
        s.controller.kill()
        try await p.promote()
        s.controller = try ControllerProcess(namespace: s.ns)
        try await p.wait("completion", timeout: .seconds(90)) { $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash }
        let steps = try await p.events().map(\.message).filter { $0.hasPrefix("Rollout step ") }
        for n in 1...6 {
            #expect(steps.filter { $0.hasPrefix("Rollout step \(n)/6 completed") }.count == 1, "step \(n) completed exactly once: \(steps)")
        }
        let rsList: ObjectList<ReplicaSet> = try await s.client.list(.replicaSets, namespace: s.ns)
        #expect(rsList.items.count == 2, "no duplicate ReplicaSet")
        await finish(s)
    }

    @Test func restartAtRecreatesTheStablePods() async throws {
        let s = try await start("restart-at") { spec in spec["replicas"] = 4 }
        let p = s.probe
        let at = KubeTime.now()
        try await s.client.perform(.restart(at: at), on: "web", namespace: s.ns)
        try await p.wait("every stable pod recreated", timeout: .seconds(60)) { $0.status?.restartedAt == at }
        let pods: ObjectList<Pod> = try await s.client.list(.pods, namespace: s.ns)
        #expect(pods.items.count == 4)
        #expect(pods.items.allSatisfy { ($0.metadata.creationTimestamp ?? at) >= at })
        // Events go out after the reconcile that planned them: the last may trail the status.
        try await eventually("four RestartingPod events") { try await p.events().filter { $0.reason == "RestartingPod" }.count >= 4 }
        let restarting = try await p.events().filter { $0.reason == "RestartingPod" }.map(\.message)
        #expect(restarting.count == 4, "one RestartingPod event per pod: \(restarting)")
        // A restart takes one pod at a time out of service even with maxUnavailable 0
        // (as the incumbent's does), so the availability sampler is not judged here.
        _ = await s.sampler.stop()
        s.controller.kill()
        await TestCluster.deleteNamespace(s.ns, client: s.client)
    }

    @Test func anArgoManifestRunsWithOnlyItsAPIVersionChanged() async throws {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("argo-run", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        let manifest = convertedArgoManifest()
        let _: JSONValue = try await client.create(Rollout.resource, try JSONValue.documents(fromYAML: manifest)[0], namespace: ns)
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        let p = RolloutProbe(client: client, namespace: ns, name: "rollouts-demo")
        try await p.wait("blue to be Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 5 }
        let before = try await p.rollout().status?.stableRS
        let _: JSONValue = try await client.patch(Rollout.resource, "rollouts-demo", namespace: ns, .json([
            .replace("/spec/template/spec/containers/0/image", "argoproj/rollouts-demo:yellow"),
        ]))
        try await p.wait("yellow to be promoted through the steps", timeout: .seconds(90)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS != before && $0.status?.stableRS == $0.status?.currentPodHash
        }
        #expect(try await p.sizes()["argoproj/rollouts-demo:blue"]?.desired == 0)
    }
}
