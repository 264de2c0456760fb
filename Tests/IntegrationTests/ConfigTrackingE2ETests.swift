import AviaryAPI
import Foundation
import Kube
import Rollouts
import Testing

/// Configuration as part of a release, end to end: examples/config-tracking.yaml
/// (a ConfigMap in envFrom, a Secret in a volume, an opted-out ConfigMap) under
/// a controller started with --config-tracking, on the real API server, whose
/// kube-controller-manager makes the pods and collects the garbage.
@Suite struct ConfigTrackingE2ETests {
    struct Setup {
        let client: KubeClient
        let ns: String
        let probe: RolloutProbe
        var controller: ControllerProcess

        func finish() async {
            controller.kill()
            await TestCluster.deleteNamespace(ns, client: client)
        }
    }

    static let tracking = ["--leader-elect", "false", "--config-tracking", "true"]
    static let secretValue = "change-me"

    func setUp(_ prefix: String, edit: (JSONValue) -> JSONValue = { $0 }) async throws -> Setup {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace(prefix, client: client)
        for doc in try TestCluster.example("config-tracking.yaml") {
            switch doc["kind"]?.stringValue {
            case "ConfigMap": let _: JSONValue = try await client.create(.configMaps, doc, namespace: ns)
            case "Secret": let _: JSONValue = try await client.create(.secrets, doc, namespace: ns)
            case "Service": let _: JSONValue = try await client.create(.services, doc, namespace: ns)
            default: let _: JSONValue = try await client.create(Rollout.resource, edit(doc), namespace: ns)
            }
        }
        let controller = try ControllerProcess(namespace: ns, arguments: Self.tracking)
        let probe = RolloutProbe(client: client, namespace: ns, name: "web")
        try await probe.wait("web 1.0 Healthy with its snapshots") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2 }
        return Setup(client: client, ns: ns, probe: probe, controller: controller)
    }

    // MARK: reading what the cluster holds

    func replicaSet(_ s: Setup, _ hash: String?) async throws -> ReplicaSet {
        let rs: ReplicaSet = try await s.client.get(.replicaSets, "web-\(hash ?? "")", namespace: s.ns)
        return rs
    }

    func replicaSets(_ s: Setup) async throws -> [ReplicaSet] {
        let list: ObjectList<ReplicaSet> = try await s.client.list(.replicaSets, namespace: s.ns)
        return list.items
    }

    /// The snapshot of `source` a pod template names (nil: it names the source itself, or nothing).
    func snapshot(of source: String, in template: JSONValue?) -> String? {
        ConfigReferences.find(in: template).map(\.ref.name).first { $0.hasPrefix(source + "-") }
    }

    func data(_ s: Setup, configMap name: String) async throws -> [String: String] {
        let cm: JSONValue = try await s.client.get(.configMaps, name, namespace: s.ns)
        guard case .object(let o)? = cm["data"] else { return [:] }
        return o.compactMapValues(\.stringValue)
    }

    /// Every snapshot in the namespace, by kind and name.
    func snapshots(_ s: Setup) async throws -> [ConfigObjectRef: JSONValue] {
        var out: [ConfigObjectRef: JSONValue] = [:]
        for kind in ConfigKind.allCases {
            let list: ObjectList<JSONValue> = try await s.client.list(kind.resource, namespace: s.ns,
                                                                      options: ListOptions(labelSelector: "\(ConfigTracking.snapshotLabel)=true"))
            for item in list.items { out[ConfigObjectRef(kind, item["metadata"]?["name"]?.stringValue ?? "")] = item }
        }
        return out
    }

    /// The ConfigMap each pod of a ReplicaSet takes its environment from.
    func envConfigMaps(_ s: Setup, hash: String?) async throws -> [String] {
        let pods: ObjectList<JSONValue> = try await s.client.list(.pods, namespace: s.ns,
                                                                  options: ListOptions(labelSelector: "\(podTemplateHashLabel)=\(hash ?? "")"))
        return pods.items.compactMap { $0["spec"]?["containers"]?.item(0)?["envFrom"]?.item(0)?["configMapRef"]?["name"]?.stringValue }
    }

    func setLevel(_ s: Setup, _ level: String) async throws {
        let _: JSONValue = try await s.client.patch(.configMaps, "web-config", namespace: s.ns, .merge(["data": ["LOG_LEVEL": .string(level)]]))
    }

    func waitForCanary(_ s: Setup, from stable: String?) async throws -> String {
        try await s.probe.wait("the configuration change paused at 50 %", timeout: .seconds(90)) {
            $0.status?.phase == .Paused && $0.status?.currentStepIndex == 1 && $0.status?.currentPodHash != stable
        }
        return try await s.probe.rollout().status?.currentPodHash ?? ""
    }

    // MARK: tests

    @Test func anEditedConfigMapIsACanaryAndAnAbortKeepsStableOnTheOldSnapshot() async throws {
        let s = try await setUp("config-abort")
        let stable = try await s.probe.rollout().status?.stableRS
        let first = try await replicaSet(s, stable)
        let oldConfig = try #require(snapshot(of: "web-config", in: first.spec.template), "the ReplicaSet names a snapshot")
        let secret = try #require(snapshot(of: "web-secrets", in: first.spec.template))
        #expect(snapshot(of: "web-flags", in: first.spec.template) == nil, "the opted-out ConfigMap is named as it is")
        #expect(try await data(s, configMap: oldConfig)["LOG_LEVEL"] == "info")
        let made = try await snapshots(s)
        let config = try #require(made[ConfigObjectRef(.configMap, oldConfig)])
        #expect(config["immutable"] == true)
        #expect(config["metadata"]?["ownerReferences"]?.item(0)?["name"]?.stringValue == first.metadata.name, "owned by its ReplicaSet")
        #expect(made[ConfigObjectRef(.secret, secret)] != nil)
        #expect(first.metadata.annotations?[ConfigTracking.replicaSetAnnotation] == "ConfigMap/\(oldConfig),Secret/\(secret)")

        // An edit of the ConfigMap is a new revision, rolled out by the same steps as an image.
        try await setLevel(s, "debug")
        let canary = try await waitForCanary(s, from: stable)
        let second = try await replicaSet(s, canary)
        let newConfig = try #require(snapshot(of: "web-config", in: second.spec.template))
        #expect(newConfig != oldConfig)
        #expect(try await data(s, configMap: newConfig)["LOG_LEVEL"] == "debug")
        #expect(snapshot(of: "web-secrets", in: second.spec.template) == secret, "the unchanged Secret's snapshot is shared")
        try await eventually("the canary's pod and the stable pod", timeout: .seconds(30)) {
            let canaryPods = try await envConfigMaps(s, hash: canary), stablePods = try await envConfigMaps(s, hash: stable)
            return canaryPods == [newConfig] && !stablePods.isEmpty && stablePods.allSatisfy { $0 == oldConfig }
        }

        // What a user sees: `get` names each revision's snapshots, `diff` the keys that changed (a Secret's never its value).
        let plugin = try PluginE2ETests.pluginPath()
        let (_, tree) = try await PluginE2ETests().kubectlAviary(plugin, ["get", "rollout", "web", "-n", s.ns, "--no-color"])
        #expect(tree.contains("config: ConfigMap/\(newConfig), Secret/\(secret)") && tree.contains("config: ConfigMap/\(oldConfig)"), "\(tree)")
        let (code, diff) = try await PluginE2ETests().kubectlAviary(plugin, ["diff", "web", "-n", s.ns])
        #expect(code == 0, "\(diff)")
        print("kubectl aviary diff:\n\(diff)\nkubectl aviary get rollout:\n\(tree)")
        #expect(diff.contains(#"~ LOG_LEVEL: "info" → "debug""#), "\(diff)")
        #expect(!diff.contains(Self.secretValue) && !diff.contains(Data(Self.secretValue.utf8).base64EncodedString()))

        // Abort: stable is back at full size, still on the old snapshot.
        try await s.probe.abort()
        try await s.probe.wait("Degraded after the abort") { $0.status?.phase == .Degraded && $0.status?.abort == true }
        try await eventually("stable at 2 on the old configuration", timeout: .seconds(30)) {
            let rs = try await replicaSet(s, stable)
            return rs.desiredReplicas == 2 && rs.availableReplicas == 2
        }
        #expect(try await envConfigMaps(s, hash: stable) == [oldConfig, oldConfig])
        #expect(snapshot(of: "web-config", in: try await replicaSet(s, stable).spec.template) == oldConfig)

        // Never a Secret's value in the status or the events.
        let status = String(decoding: try JSONEncoder().encode(try await s.probe.rollout().status), as: UTF8.self)
        let events = try await s.probe.events().map(\.message).joined(separator: "\n")
        for text in [status, events] {
            #expect(!text.contains(Self.secretValue) && !text.contains(Data(Self.secretValue.utf8).base64EncodedString()))
        }
        await s.finish()
    }

    @Test func promotionLeavesOneSnapshotInUseUndoBringsTheOldConfigurationBackAndPruningCollectsTheRest() async throws {
        let s = try await setUp("config-undo") { $0.setting(["spec", "revisionHistoryLimit"], to: 1) }
        let p = s.probe
        let v1 = try await p.rollout().status?.stableRS
        let infoSnapshot = snapshot(of: "web-config", in: try await replicaSet(s, v1).spec.template)
        try await setLevel(s, "debug")
        let v2 = try await waitForCanary(s, from: v1)
        try await p.promote()
        try await p.wait("debug promoted", timeout: .seconds(60)) { $0.status?.phase == .Healthy && $0.status?.stableRS == v2 }
        try await eventually("one configuration serving", timeout: .seconds(60)) {
            let serving = try await replicaSets(s).filter { $0.desiredReplicas > 0 }
            return Set(serving.compactMap { snapshot(of: "web-config", in: $0.spec.template) }).count == 1
        }

        // Undo to revision 1: its ReplicaSet, and so its configuration, serves again.
        let undone = try await s.client.perform(.undo(toRevision: 1), on: "web", namespace: s.ns)
        #expect(undone.outcome.contains("with its configuration (ConfigMap/\(infoSnapshot ?? "")"), "\(undone.outcome)")
        try await p.wait("the undo paused at 50 %", timeout: .seconds(60)) {
            $0.status?.phase == .Paused && $0.status?.currentPodHash == v1
        }
        try await p.promote()
        try await p.wait("revision 1 stable again", timeout: .seconds(60)) { $0.status?.phase == .Healthy && $0.status?.stableRS == v1 }
        try await eventually("pods on the info configuration", timeout: .seconds(30)) {
            let names = try await envConfigMaps(s, hash: v1)
            return names.count == 2 && names.allSatisfy { $0 == infoSnapshot }
        }
        #expect(try await replicaSets(s).count == 2, "no new ReplicaSet for the undo")

        // The undone template names revision 1's snapshots: an edit of web-config is seen once the
        // Rollout names web-config again (its manifest applied). A third configuration, then: with
        // revisionHistoryLimit 1 the oldest ReplicaSet is pruned, and its snapshots with it.
        try await setLevel(s, "warn")
        let manifest = try #require(try TestCluster.example("config-tracking.yaml").first { $0["kind"] == "Rollout" }?["spec"]?["template"])
        let _: JSONValue = try await s.client.patch(Rollout.resource, "web", namespace: s.ns, .merge(["spec": ["template": manifest]]))
        let v3 = try await waitForCanary(s, from: v1)
        try await p.promote()
        try await p.wait("warn promoted", timeout: .seconds(60)) { $0.status?.phase == .Healthy && $0.status?.stableRS == v3 }
        try await eventually("snapshots only of the ReplicaSets that are left", timeout: .seconds(90)) {
            let left = try await replicaSets(s)
            let named = Set(left.flatMap { ConfigTracking.snapshots(of: $0) })
            let exist = Set(try await snapshots(s).keys)
            return left.count == 2 && exist == named
        }
        await s.finish()
    }

    @Test func anOptedOutEditRollsNothingARestartMidCanaryContinuesAndAMissingConfigMapIsInvalid() async throws {
        var s = try await setUp("config-restart")
        let p = s.probe
        let v1 = try await p.rollout().status?.stableRS
        let _: JSONValue = try await s.client.patch(.configMaps, "web-flags", namespace: s.ns, .merge(["data": ["BETA": "on"]]))
        try await Task.sleep(for: .seconds(4))
        #expect(try await p.rollout().status?.currentPodHash == v1, "an opted-out ConfigMap is read live, never rolled")
        #expect(try await replicaSets(s).count == 1)

        // A restart in the middle of a configuration canary: the next controller carries on with the same revision.
        try await setLevel(s, "debug")
        let v2 = try await waitForCanary(s, from: v1)
        s.controller.kill()
        s.controller = try ControllerProcess(namespace: s.ns, arguments: Self.tracking)
        try await p.promote()
        try await p.wait("the canary promoted by the next controller", timeout: .seconds(60)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS == v2
        }
        #expect(try await replicaSets(s).count == 2, "the same revision, no third ReplicaSet")
        #expect(try await snapshots(s).keys.filter { $0.kind == .configMap }.count == 2)

        // A ConfigMap that does not exist: InvalidSpec naming the field, and nothing rolled.
        let r = try await p.rollout()
        let broken = r.spec.template?.setting(["spec", "volumes"], to: [["name": "secrets", "secret": ["secretName": "web-secrets"]],
                                                                        ["name": "extra", "configMap": ["name": "nope"]]])
        let _: JSONValue = try await s.client.patch(Rollout.resource, "web", namespace: s.ns, .merge(["spec": ["template": broken ?? .null]]))
        try await p.wait("InvalidSpec") { $0.status?.condition(.InvalidSpec)?.message.contains(#"ConfigMap "nope" not found"#) == true }
        let message = try await p.rollout().status?.condition(.InvalidSpec)?.message ?? ""
        #expect(message.contains("spec.template.spec.volumes[1].configMap"), "\(message)")
        #expect(try await replicaSets(s).count == 2)
        await s.finish()
    }
}
