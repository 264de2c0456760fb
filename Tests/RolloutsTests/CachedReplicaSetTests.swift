import AviaryAPI
import KubeAPI
import Testing
@testable import Rollouts

/// What the controller's cache keeps of a ReplicaSet is enough for every
/// decision it makes, and never enough to be written back.
@Suite struct CachedReplicaSetTests {
    static let template: JSONValue = [
        "metadata": ["labels": ["app": "web", podTemplateHashLabel: "abc"], "annotations": ["team": "shop"], "creationTimestamp": .null],
        "spec": [
            "initContainers": [["name": "init", "image": "busybox", "envFrom": [["secretRef": ["name": "init-secrets"]]]]],
            "containers": [[
                "name": "web", "image": "web:1",
                "env": [["name": "MODE", "value": "prod"],
                        ["name": "DB", "valueFrom": ["secretKeyRef": ["name": "db", "key": "url"]]],
                        ["name": "FLAG", "valueFrom": ["configMapKeyRef": ["name": "flags", "key": "new-ui", "optional": true]]],
                        ["name": "NODE", "valueFrom": ["fieldRef": ["fieldPath": "spec.nodeName"]]]],
                "envFrom": [["configMapRef": ["name": "web-config"]]],
                "resources": ["limits": ["memory": "256Mi"]],
                "readinessProbe": ["httpGet": ["path": "/healthz", "port": 8080]],
            ]],
            "volumes": [["name": "cache", "emptyDir": [:]],
                        ["name": "conf", "configMap": ["name": "nginx"]],
                        ["name": "tls", "secret": ["secretName": "tls"]],
                        ["name": "all", "projected": ["sources": [["serviceAccountToken": ["path": "token"]], ["configMap": ["name": "ca"]]]]]],
            "affinity": ["nodeAffinity": [:]],
            "terminationGracePeriodSeconds": 30,
        ],
    ]

    static func replicaSet() -> ReplicaSet {
        ReplicaSet(metadata: ObjectMeta(name: "web-abc", namespace: "shop", labels: [podTemplateHashLabel: "abc"]),
                   spec: .init(replicas: 2, selector: LabelSelector(matchLabels: ["app": "web"]), template: template))
    }

    @Test func theConfigReferencesImagesAndMetadataStayTheRestGoes() {
        let full = Self.replicaSet()
        let cached = CachedReplicaSet.compact(full)
        #expect(ConfigReferences.find(in: cached.spec.template).map(\.ref) == ConfigReferences.find(in: full.spec.template).map(\.ref))
        #expect(ConfigReferences.find(in: cached.spec.template).map(\.optional) == ConfigReferences.find(in: full.spec.template).map(\.optional))
        #expect(cached.spec.template?["metadata"] == full.spec.template?["metadata"])
        #expect(cached.spec.template?["spec"]?["containers"]?.arrayValue?.first?["image"] == "web:1")
        #expect(cached.spec.template?["spec"]?["containers"]?.arrayValue?.first?["readinessProbe"] == nil)
        #expect(cached.spec.template?["spec"]?["affinity"] == nil)
        #expect(cached.spec.template?["spec"]?["volumes"]?.arrayValue?.count == 3, "emptyDir goes")
        #expect(cached.cachedSpecDigest == PodTemplateHash.digest(Self.template["spec"]!))
        #expect(CachedReplicaSet.compact(cached).cachedSpecDigest == cached.cachedSpecDigest, "compacting twice changes nothing")
    }

    @Test func aTemplateIsStillKnownAsTheReplicaSetsButAnotherIsNot() throws {
        let full = Self.replicaSet()
        let cached = CachedReplicaSet.compact(full)
        var rollout = Rollout(metadata: ObjectMeta(name: "web", namespace: "shop"),
                              spec: RolloutSpec(replicas: 2, selector: LabelSelector(matchLabels: ["app": "web"]), template: nil,
                                                strategy: RolloutStrategy(canary: CanaryStrategy(steps: []))))
        let copied = try #require(Ownership.userTemplate(of: full, for: rollout))
        rollout.spec.template = copied
        #expect(Ownership.hasUserTemplate(full, copied, for: rollout))
        #expect(Ownership.hasUserTemplate(cached, copied, for: rollout))
        let other = copied.setting(["spec", "terminationGracePeriodSeconds"], to: 10)
        #expect(!Ownership.hasUserTemplate(cached, other, for: rollout))
        let relabelled = copied.setting(["metadata", "labels", "tier"], to: "front")
        #expect(!Ownership.hasUserTemplate(cached, relabelled, for: rollout))
    }

    /// Whatever shape a user (or a hostile edit) gives the template, compacting never traps and keeps no junk.
    @Test func oddShapesAreCutDownWithoutTrouble() {
        let shapes: [JSONValue] = [
            ["spec": "not an object"],
            ["spec": ["containers": "not a list", "volumes": [1, "x", .null]]],
            ["spec": ["containers": [1, "x", ["name": 3, "env": "none", "envFrom": [["configMapRef": "x"]]]], "initContainers": [[:]]]],
            ["metadata": "odd", "spec": ["volumes": [["projected": ["sources": "none"]], ["configMap": 7]]]],
            "not even an object",
        ]
        for template in shapes {
            var rs = Self.replicaSet()
            rs.spec.template = template
            let cached = CachedReplicaSet.compact(rs)
            _ = ConfigReferences.find(in: cached.spec.template)
            #expect(cached.spec.template?["spec"]?["containers"]?.arrayValue?.allSatisfy { $0["env"] == nil || $0["env"]?.arrayValue != nil } ?? true)
        }
    }

    @Test func anUndoNeverCopiesACutDownTemplate() {
        var rs = CachedReplicaSet.compact(Self.replicaSet())
        rs.metadata.annotations = [revisionAnnotation: "1"]
        let rollout = Rollout(metadata: ObjectMeta(name: "web", namespace: "shop", labels: nil),
                              spec: RolloutSpec(replicas: 2, selector: LabelSelector(matchLabels: ["app": "web"]), template: World.template("web:2"),
                                                strategy: RolloutStrategy(canary: CanaryStrategy(steps: []))))
        let outcome = UserAction.undo(toRevision: 1).patches(for: rollout, replicaSets: [rs])
        if case .success = outcome { Issue.record("an undo from a cached ReplicaSet: \(outcome)") }
    }
}
