import AviaryAPI
import Foundation
import Kube
import Testing

/// The action verbs as `kubectl aviary …`: kubectl finds the plugin on PATH
/// by its name, kubectl-aviary, and it talks to the API alone.
@Suite struct PluginE2ETests {
    /// A PATH directory holding kubectl-aviary, a link to the built aviary.
    static func pluginPath() throws -> String {
        let dir = NSTemporaryDirectory() + "aviary-plugin-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/kubectl-aviary", withDestinationPath: try ControllerProcess.debugBinary())
        return dir
    }

    func kubectlAviary(_ path: String, _ args: [String]) async throws -> (status: Int32, output: String) {
        var env = ProcessInfo.processInfo.environment
        env["KUBECONFIG"] = try TestCluster.kubeconfigPath
        env["PATH"] = path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        return try await runCommand("/usr/bin/env", ["kubectl", "aviary"] + args, environment: env)
    }

    @Test func promoteAbortRetryPauseResumeAndStatusExitCodes() async throws {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("plugin", client: client)
        for doc in try TestCluster.example("canary-rollout.yaml") {
            if doc["kind"] == "Rollout" {
                let r = doc.setting(["spec", "replicas"], to: 2).setting(["metadata", "labels"], to: ["train": "r1"])
                    .setting(["spec", "strategy", "canary", "steps"], to: [["setWeight": 50], ["pause": [:]]])
                    .setting(["spec", "strategy", "canary", "abortScaleDownDelaySeconds"], to: 0)
                let _: JSONValue = try await client.create(Rollout.resource, r, namespace: ns)
            } else {
                let _: JSONValue = try await client.create(.services, doc, namespace: ns)
            }
        }
        let controller = try ControllerProcess(namespace: ns)
        defer { controller.kill() }
        let path = try Self.pluginPath()
        let p = RolloutProbe(client: client, namespace: ns, name: "web")
        #expect(try await kubectlAviary(path, ["status", "web", "-n", ns, "--watch", "--timeout", "30s"]).status == 0, "Healthy: exit 0")

        try await p.setImage("registry.example/web:2.0")
        try await p.wait("the indefinite pause") { $0.status?.phase == .Paused }
        let waiting = try await kubectlAviary(path, ["status", "web", "-n", ns, "--watch", "--timeout", "2s"])
        #expect(waiting.status == 2, "paused past the timeout: exit 2 (\(waiting.output))")

        // Abort by label selector (a release train), then status says Degraded with exit 1.
        let aborted = try await kubectlAviary(path, ["abort", "-l", "train=r1", "-n", ns])
        #expect(aborted.status == 0 && aborted.output.contains("rollout 'web' aborted"), "\(aborted.output)")
        #expect(try await kubectlAviary(path, ["status", "web", "-n", ns, "--watch", "--timeout", "30s"]).status == 1, "aborted: exit 1")

        // Retry starts again at the first step and reaches the pause; promote finishes it.
        #expect(try await kubectlAviary(path, ["retry", "web", "-n", ns]).status == 0)
        try await p.wait("the pause again after the retry") { $0.status?.phase == .Paused && $0.status?.abort != true }
        #expect(try await kubectlAviary(path, ["promote", "web", "-n", ns]).status == 0)
        #expect(try await kubectlAviary(path, ["status", "web", "-n", ns, "--watch", "--timeout", "60s"]).status == 0)
        #expect(try await p.rollout().status?.stableRS == (try await p.rollout()).status?.currentPodHash)

        // pause holds a new update's steps; resume lets it go on; promote --full skips the rest.
        #expect(try await kubectlAviary(path, ["pause", "web", "-n", ns]).status == 0)
        try await p.setImage("registry.example/web:3.0")
        try await p.wait("held by spec.paused") { $0.spec.paused == true && $0.status?.phase == .Paused && $0.status?.message == "manually paused" }
        #expect(try await kubectlAviary(path, ["resume", "web", "-n", ns]).status == 0)
        try await p.wait("at the indefinite pause") { $0.spec.paused == false && $0.status?.pauseConditions?.first?.reason == .CanaryPauseStep }
        #expect(try await kubectlAviary(path, ["promote", "--full", "web", "-n", ns]).status == 0)
        #expect(try await kubectlAviary(path, ["status", "web", "-n", ns, "--watch", "--timeout", "60s"]).status == 0)

        // get and list show it; set image starts an update; undo goes back to the previous revision's template.
        let get = try await kubectlAviary(path, ["get", "rollout", "web", "-n", ns])
        #expect(get.status == 0 && get.output.contains("Status:         ✔ Healthy") && get.output.contains("registry.example/web:3.0 (stable)"), "\(get.output)")
        let list = try await kubectlAviary(path, ["list", "rollouts", "-n", ns])
        #expect(list.output.contains("web   Canary    Healthy  2/2   100         2/2    2        2           2"), "\(list.output)")
        #expect(get.output.contains("  SetWeight:    100\n") && get.output.contains("  ActualWeight: 100\n"), "a completed canary is at 100: \(get.output)")
        // get --watch on a settled Rollout keeps watching (until interrupted, here until --timeout).
        let watchStart = ContinuousClock.now
        let watched = try await kubectlAviary(path, ["get", "rollout", "web", "-n", ns, "--watch", "--timeout", "3s", "--no-color"])
        #expect(watched.status == 0 && ContinuousClock.now - watchStart >= .seconds(3), "--watch returned before --timeout")
        #expect(watched.output.components(separatedBy: "Name:           web").count >= 3, "redrawn while watching: \(watched.output)")
        #expect(try await kubectlAviary(path, ["set", "image", "-l", "train=r1", "web=registry.example/web:4.0", "-n", ns]).status == 0)
        try await p.wait("4.0 at the pause") { $0.status?.phase == .Paused && $0.metadata.generation == $0.status?.observedGeneration }
        let noSuch = try await kubectlAviary(path, ["undo", "web", "--to-revision", "9", "-n", ns])
        #expect(noSuch.status == 1 && noSuch.output.contains("rollout 'web': no revision 9 (its revisions are 1, 2, 3, 4)"), "\(noSuch.output)")
        let undo = try await kubectlAviary(path, ["undo", "web", "-n", ns])
        #expect(undo.status == 0 && undo.output.contains("rolled back to revision 3"), "\(undo.output)")
        #expect(try await kubectlAviary(path, ["status", "web", "-n", ns, "--watch", "--timeout", "60s"]).status == 0)
        #expect(try await p.sizes()["registry.example/web:3.0"]?.available == 2)

        // restart recreates the stable pods.
        let before = Date()
        #expect(try await kubectlAviary(path, ["restart", "web", "-n", ns]).status == 0)
        try await p.wait("the stable pods recreated", timeout: .seconds(60)) { $0.status?.restartedAt != nil && $0.status?.restartedAt == $0.spec.restartAt }
        let pods: ObjectList<Pod> = try await client.list(.pods, namespace: ns)
        #expect(pods.items.allSatisfy { ($0.metadata.creationTimestamp?.date ?? .distantPast) >= before.addingTimeInterval(-1) })

        let missing = try await kubectlAviary(path, ["promote", "nope", "-n", ns])
        #expect(missing.status == 1 && missing.output.contains("rollout 'nope'"), "\(missing.output)")

        // Events read oldest first, by their microsecond eventTime: the first deploy's ReplicaSet comes first.
        let events: ObjectList<JSONValue> = try await client.list(.events, namespace: ns, options: ListOptions(fieldSelector: "involvedObject.name=web"))
        #expect(events.items.allSatisfy { ($0["eventTime"]?.stringValue ?? "").count == 27 }, "every event has a microsecond eventTime")
        #expect(try await p.events().first?.reason == "NewReplicaSetCreated")
        let kubectlOrder = try await TestCluster.kubectl("get", "events", "-n", ns, "--field-selector", "involvedObject.name=web",
                                                   "--sort-by=.eventTime", "-o", "jsonpath={.items[*].reason}")
        #expect(kubectlOrder.split(separator: " ").map(String.init) == (try await p.events().map(\.reason)), "kubectl --sort-by=.eventTime agrees")
        await TestCluster.deleteNamespace(ns, client: client)
    }

    /// `version` names the plugin's version and the leading controller's (from its Lease), and warns when they differ.
    @Test func versionNamesTheControllersAndWarnsOnAMismatch() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("version", client: client)
        let path = try Self.pluginPath()
        let none = try await kubectlAviary(path, ["version", "--controller-namespace", ns])
        #expect(none.status == 0 && none.output.contains("aviary 0.1") && none.output.contains("controller: none found in namespace \(ns)"), "\(none.output)")
        let lease: JSONValue = [
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": ["name": "aviary-controller", "annotations": ["aviary.dev/controller-version": "0.0.1"]],
            "spec": ["holderIdentity": "pod-a", "renewTime": .string(MicroTime.now().description)],
        ]
        let _: JSONValue = try await client.create(.leases, lease, namespace: ns)
        let older = try await kubectlAviary(path, ["version", "--controller-namespace", ns])
        #expect(older.status == 0, "\(older.output)")
        #expect(older.output.contains("controller 0.0.1 (Lease \(ns)/aviary-controller, held by pod-a)"), "\(older.output)")
        #expect(older.output.contains("warning: the plugin is 0.1"), "\(older.output)")
        // A controller of this build writes its own version on the Lease it leads.
        let controller = try ControllerProcess(namespace: ns, arguments: ["--leader-election-namespace", ns, "--instance-id", "v"])
        defer { controller.kill() }
        let mine = try await eventuallyValue("the controller's version on its Lease") { () -> String? in
            let l: JSONValue? = try? await client.get(.leases, "aviary-controller-v", namespace: ns)
            return l?["metadata"]?["annotations"]?["aviary.dev/controller-version"]?.stringValue
        }
        let offline = try await kubectlAviary(path, ["version", "--client-only"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(offline == "aviary \(mine)", "the Lease names this build")
        await TestCluster.deleteNamespace(ns, client: client)
    }
}
