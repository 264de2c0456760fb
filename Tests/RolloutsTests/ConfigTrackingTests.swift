import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Rollouts

/// Configuration as part of a release, decided by the planner: snapshots,
/// the template that names them, their owners, and what a user is told.
@Suite struct ConfigTrackingTests {
    static let envFrom: JSONValue = ["configMapRef": ["name": "web-config"]]
    static let secretVolume: JSONValue = ["name": "creds", "secret": ["secretName": "db-creds"]]

    /// A tracked canary (25 % then an indefinite pause) whose template names a ConfigMap in envFrom and a Secret in a volume.
    static func world(config: String = "v1", secret: String = "s1", annotate: Bool = true) -> World {
        var w = World(replicas: 4, steps: [.weight(25), .pause()])
        w.rollout.spec.template = template("web:1")
        if annotate { w.rollout.metadata.annotations = [ConfigTracking.annotation: "true"] }
        w.configs = [:]
        w.setConfig(config)
        w.setSecret(secret)
        return w
    }

    static func template(_ image: String) -> JSONValue {
        ["metadata": ["labels": ["app": "web"]],
         "spec": ["containers": [["name": "web", "image": .string(image), "envFrom": [envFrom]]], "volumes": [secretVolume]]]
    }

    @Test func referencesAreFoundWhereverAPodCanNameThem() {
        let t: JSONValue = ["spec": [
            "initContainers": [["name": "init", "env": [["name": "A", "valueFrom": ["secretKeyRef": ["name": "s-init", "key": "k"]]]]]],
            "containers": [["name": "c", "envFrom": [["secretRef": ["name": "s-env", "optional": true]], ["configMapRef": ["name": "cm-env"]]],
                            "env": [["name": "B", "valueFrom": ["configMapKeyRef": ["name": "cm-key", "key": "k"]]], ["name": "C", "value": "x"]]]],
            "volumes": [["name": "v1", "configMap": ["name": "cm-vol"]], ["name": "v2", "secret": ["secretName": "s-vol", "optional": true]],
                        ["name": "v3", "projected": ["sources": [["configMap": ["name": "cm-proj"]], ["secret": ["name": "s-proj"]],
                                                                 ["downwardAPI": ["items": []]]]]],
                        ["name": "v4", "emptyDir": [:]]],
        ]]
        let found = ConfigReferences.find(in: t)
        #expect(found.map(\.ref.description) == ["Secret/s-init", "Secret/s-env", "ConfigMap/cm-env", "ConfigMap/cm-key",
                                                 "ConfigMap/cm-vol", "Secret/s-vol", "ConfigMap/cm-proj", "Secret/s-proj"])
        #expect(found.map(\.optional) == [false, true, false, false, false, true, false, false])
        #expect(found[0].path == "spec.template.spec.initContainers[0].env[0].valueFrom.secretKeyRef")
        #expect(found[6].path == "spec.template.spec.volumes[2].projected.sources[0].configMap")
        let renamed = ConfigReferences.rewrite(t) { $0.ref.name + "-x" }
        #expect(ConfigReferences.find(in: renamed).allSatisfy { $0.ref.name.hasSuffix("-x") })
        #expect(renamed["spec"]?["volumes"]?.item(3) == t["spec"]?["volumes"]?.item(3), "what names nothing is untouched")
    }

    @Test func theFirstDeployMakesTheSnapshotsBeforeItsReplicaSetThenHandsThemToIt() throws {
        var w = Self.world()
        let plan = w.reconcile()
        let kinds = plan.actions.compactMap { a -> String? in
            switch a {
            case .createConfigSnapshot(let s): return "snapshot \(s.source)"
            case .createReplicaSet: return "replicaset"
            default: return nil
            }
        }
        #expect(kinds == ["snapshot ConfigMap/web-config", "snapshot Secret/db-creds", "replicaset"])
        let rs = try #require(w.replicaSets.values.first)
        let names = ConfigReferences.find(in: rs.spec.template).map(\.ref)
        #expect(names.count == 2 && names.allSatisfy { w.snapshots[$0] != nil }, "the ReplicaSet names the snapshots: \(names)")
        #expect(ConfigTracking.snapshots(of: rs) == names.sorted())
        #expect(w.snapshots.values.allSatisfy { $0.ownerReferences.map(\.kind) == ["Rollout"] }, "the Rollout holds them until the ReplicaSet exists")
        w.settle()
        #expect(w.snapshots.values.allSatisfy { $0.ownerReferences.map(\.name) == [rs.metadata.name ?? ""] })
        #expect(w.status.phase == .Healthy)
    }

    @Test func editingTheConfigMapStartsACanaryWhoseNewPodsMountTheNewSnapshot() throws {
        var w = Self.world()
        w.settle()
        let stable = try #require(w.status.stableRS)
        let before = Set(w.snapshots.keys)
        w.setConfig("v2")
        w.settle()
        let current = try #require(w.status.currentPodHash)
        #expect(current != stable, "a new template hash")
        #expect(w.status.currentStepIndex == 1 && w.status.phase == .Paused)
        let old = try #require(w.replicaSets.values.first { $0.podTemplateHash == stable })
        let new = try #require(w.replicaSets.values.first { $0.podTemplateHash == current })
        let oldNames = Set(ConfigReferences.find(in: old.spec.template).map(\.ref))
        let newNames = Set(ConfigReferences.find(in: new.spec.template).map(\.ref))
        #expect(oldNames == before, "stable keeps the old snapshots")
        #expect(newNames.subtracting(oldNames).map(\.kind) == [.configMap], "only the ConfigMap's snapshot is new")
        #expect(newNames.intersection(oldNames).map(\.kind) == [.secret], "the unchanged Secret's snapshot is shared")
        let shared = try #require(newNames.first { $0.kind == .secret })
        #expect(Set(w.snapshots[shared]?.ownerReferences.map(\.name) ?? []) == [old.metadata.name ?? "", new.metadata.name ?? ""])

        // Promote: the old ReplicaSet goes with history pruning, and so does the snapshot only it used.
        w.rollout.status?.promoteFull = true
        w.settle()
        #expect(w.status.stableRS == current && w.status.phase == .Healthy)
        w.rollout.spec.revisionHistoryLimit = 0
        w.advance(60)
        w.settle()
        #expect(Set(w.snapshots.keys) == newNames, "one set of snapshots in use: \(w.snapshots.keys.map(\.description))")
    }

    @Test func anAbortLeavesStableOnItsSnapshotsAndRevertingTheContentIsAFastRollback() throws {
        var w = Self.world()
        w.settle()
        let stable = try #require(w.status.stableRS)
        w.setConfig("v2")
        w.settle()
        w.rollout.status?.abort = true
        w.settle()
        #expect(w.status.abort == true)
        let old = try #require(w.replicaSets.values.first { $0.podTemplateHash == stable })
        #expect(old.desiredReplicas == 4, "stable at full size, on its own snapshots")
        #expect(w.status.stableRS == stable)
        // The content back as it was: the same snapshot name, the same template, stable's hash.
        w.setConfig("v1")
        w.settle()
        #expect(w.status.currentPodHash == stable && w.status.phase == .Healthy)
    }

    @Test func anUndoneTemplateNamingOurSnapshotIsThatRevisionAgain() throws {
        var w = Self.world()
        w.settle()
        let first = try #require(w.replicaSets.values.first)
        w.setConfig("v2")
        w.settle()
        w.rollout.status?.promoteFull = true
        w.settle()
        // kubectl aviary undo copies revision 1's template back: it names revision 1's snapshots.
        let undo = try UserAction.undo(toRevision: 1).patches(for: w.rollout, replicaSets: Array(w.replicaSets.values)).get()
        guard case .replace(_, let template)? = undo.patches.first else { Issue.record("no template"); return }
        w.rollout.spec.template = template
        w.settle()
        #expect(w.status.currentPodHash == first.podTemplateHash, "the update goes to revision 1's ReplicaSet, not a new one")
        #expect(w.replicaSets.count == 2)
        #expect(w.replicaSets[first.metadata.name ?? ""]?.revision == 3, "current again, so the newest revision (pruning goes oldest first)")
        w.rollout.status?.promoteFull = true
        w.settle()
        #expect(w.status.stableRS == first.podTemplateHash, "revision 1's ReplicaSet serves again, with its configuration")
        #expect(w.status.condition(.InvalidSpec) == nil)
    }

    @Test func aBlueGreenRolloutPreviewsTheNewConfiguration() throws {
        var w = World.blueGreen(replicas: 2) { $0.autoPromotionEnabled = false }
        w.rollout.spec.template = Self.template("web:1")
        w.rollout.metadata.annotations = [ConfigTracking.annotation: "true"]
        w.configs = [:]
        w.setConfig("v1")
        w.setSecret("s1")
        w.settle()
        let active = try #require(w.selector("web-active"))
        w.setConfig("v2")
        w.settle()
        #expect(w.status.phase == .Paused, "the new configuration waits in preview for a promotion")
        let preview = try #require(w.selector("web-preview"))
        #expect(preview != active && w.selector("web-active") == active)
        let names = { (hash: String) in
            ConfigReferences.find(in: w.replicaSets.values.first { $0.podTemplateHash == hash }?.spec.template).map(\.ref.name)
        }
        #expect(names(preview).first != names(active).first, "preview mounts the new ConfigMap snapshot, active the old")
        w.rollout.status?.promoteFull = true
        w.settle()
        #expect(w.selector("web-active") == preview && w.status.phase == .Healthy)
    }

    @Test func anOptedOutObjectIsNotCopiedAndItsEditsRollNothing() throws {
        var w = Self.world()
        w.configs?[ConfigObjectRef(.configMap, "web-config")]?.optedOut = true
        w.settle()
        let rs = try #require(w.replicaSets.values.first)
        #expect(ConfigReferences.find(in: rs.spec.template).map(\.ref.name).contains("web-config"), "named as it is")
        let hash = w.status.currentPodHash
        w.setConfig("v2", optedOut: true)
        w.settle()
        #expect(w.status.currentPodHash == hash && w.replicaSets.count == 1)
    }

    @Test func aMissingObjectIsAnInvalidSpecNamingTheFieldUnlessOptional() throws {
        var w = Self.world()
        w.configs?[ConfigObjectRef(.secret, "db-creds")] = nil
        w.reconcile()
        #expect(w.replicaSets.isEmpty && w.snapshots.isEmpty, "nothing is rolled")
        let message = try #require(w.status.condition(.InvalidSpec)?.message)
        #expect(message.contains(#"spec.template.spec.volumes[0].secret: Secret "db-creds" not found"#), "\(message)")
        #expect(message.contains("optional: true"))

        w.rollout.spec.template = w.rollout.spec.template?.setting(["spec", "volumes"], to: [
            ["name": "creds", "secret": ["secretName": "db-creds", "optional": true]],
        ])
        w.settle()
        #expect(w.status.phase == .Healthy)
        let rs = try #require(w.replicaSets.values.first)
        #expect(ConfigReferences.find(in: rs.spec.template).map(\.ref.name).contains("db-creds"), "an optional one that is missing stays as named")
    }

    @Test func withoutTrackingInTheControllerTheAnnotationIsAnInvalidSpec() throws {
        var w = Self.world()
        w.configs = nil
        w.reconcile()
        let message = try #require(w.status.condition(.InvalidSpec)?.message)
        #expect(message.contains("metadata.annotations[aviary.dev/config-tracking]") && message.contains("--config-tracking"), "\(message)")
        #expect(w.replicaSets.isEmpty)
    }

    @Test func withoutTheAnnotationNothingIsCopied() throws {
        var w = Self.world(annotate: false)
        w.settle()
        #expect(w.snapshots.isEmpty)
        #expect(w.status.currentPodHash == PodTemplateHash.compute(Self.template("web:1")), "the template as written")
    }

    @Test func anotherRolloutsSnapshotIsRefusedAndOursIsNeverShared() throws {
        var w = Self.world()
        let theirs = ConfigObjectRef(.configMap, "web-config-abc")
        w.configs?[theirs] = ConfigSource(ref: theirs, digest: "1", snapshotOf: "web-config", snapshotRollout: "api", snapshotDigest: "1")
        w.rollout.spec.template = w.rollout.spec.template?.setting(["spec", "volumes"], to: [["name": "c", "configMap": ["name": "web-config-abc"]]])
        w.reconcile()
        let message = try #require(w.status.condition(.InvalidSpec)?.message)
        #expect(message.contains(#"is a snapshot of Rollout "api"; name its source "web-config" instead"#), "\(message)")
        let a = ConfigTracking.snapshotName(source: "web-config", kind: .configMap, rollout: "web", digest: "d")
        let b = ConfigTracking.snapshotName(source: "web-config", kind: .configMap, rollout: "api", digest: "d")
        #expect(a != b && a.hasPrefix("web-config-") && b.hasPrefix("web-config-"))
    }

    @Test func aSnapshotNoReplicaSetNamesIsDeletedAfterAMinute() throws {
        var w = Self.world()
        w.settle()
        let leftover = ConfigObjectRef(.configMap, "web-config-zzz")
        w.snapshots[leftover] = ConfigSource(ref: leftover, digest: "9", creationTimestamp: w.now, snapshotOf: "web-config",
                                             snapshotRollout: "web", snapshotDigest: "9")
        let plan = w.reconcile()
        #expect(w.snapshots[leftover] != nil, "young: kept")
        #expect((plan.requeueAfter ?? 0) > 0)
        w.advance(61)
        w.reconcile()
        #expect(w.snapshots[leftover] == nil)
        #expect(w.snapshots.count == 2, "the ones in use stay")
    }

    @Test func aTooLongNameIsAnInvalidSpec() throws {
        var w = Self.world()
        let long = String(repeating: "c", count: 250)
        w.configs?[ConfigObjectRef(.configMap, long)] = ConfigSource(ref: ConfigObjectRef(.configMap, long), digest: "1")
        w.rollout.spec.template = w.rollout.spec.template?.setting(["spec", "volumes"], to: [["name": "c", "configMap": ["name": .string(long)]]])
        w.reconcile()
        let message = try #require(w.status.condition(.InvalidSpec)?.message)
        #expect(message.contains("too long a name for a snapshot"), "\(message)")
    }

    @Test func theCacheAndTheExecutorDigestTheSameContent() throws {
        let json = #"{"metadata": {"name": "c", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{…}", "aviary.dev/config-tracking": "false"}}, "data": {"b": "2", "a": "1"}, "binaryData": {"z": "AAE="}}"#
        let cached = try JSONDecoder().decode(ConfigObject<ConfigMapKind>.self, from: Data(json.utf8))
        let object = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        #expect(cached.digest == ConfigDigest.of(kind: .configMap, object: object))
        #expect(cached.metadata.annotations == [ConfigTracking.annotation: "false"], "only ours are kept")
        #expect(cached.source.optedOut)
        let secret = #"{"metadata": {"name": "s"}, "type": "Opaque", "data": {"password": "c2VjcmV0"}}"#
        let s = try JSONDecoder().decode(ConfigObject<SecretKind>.self, from: Data(secret.utf8))
        #expect(s.digest == ConfigDigest.of(kind: .secret, object: try JSONDecoder().decode(JSONValue.self, from: Data(secret.utf8))))
        let encoded = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        #expect(!encoded.contains("c2VjcmV0"), "the cache keeps no value: \(encoded)")
        // Moving a value between keys is a change.
        #expect(ConfigDigest.of(kind: .configMap, type: nil, sections: [("data", ["a": "1b", "c": ""])])
                != ConfigDigest.of(kind: .configMap, type: nil, sections: [("data", ["a": "1", "bc": ""])]))
    }
}

extension World {
    mutating func setConfig(_ content: String, optedOut: Bool = false) {
        let ref = ConfigObjectRef(.configMap, "web-config")
        configs?[ref] = ConfigSource(ref: ref, digest: ConfigDigest.of(kind: .configMap, type: nil, sections: [("data", ["LEVEL": content])]), optedOut: optedOut)
    }

    mutating func setSecret(_ content: String) {
        let ref = ConfigObjectRef(.secret, "db-creds")
        configs?[ref] = ConfigSource(ref: ref, digest: ConfigDigest.of(kind: .secret, type: "Opaque", sections: [("data", ["password": content])]))
    }
}
