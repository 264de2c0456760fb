import Foundation
import Kube
import Testing

@Suite struct ClientCRUDTests {
    @Test func createGetListReplaceDelete() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("crud", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }

        let created = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "a", labels: ["team": "x"]), data: ["k": "1"]), namespace: ns)
        #expect(created.metadata.uid != nil)
        #expect(created.metadata.creationTimestamp != nil)

        let got: ConfigMap = try await client.get(.configMaps, "a", namespace: ns)
        #expect(got.data == ["k": "1"])

        let _ = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "b"), data: [:]), namespace: ns)
        let labelled: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: ns, options: ListOptions(labelSelector: "team=x"))
        #expect(labelled.items.map(\.metadata.name) == ["a"])
        let byField: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: ns, options: ListOptions(fieldSelector: "metadata.name=b"))
        #expect(byField.items.map(\.metadata.name) == ["b"])

        // Another client sets a field our type does not model; a replace keeps it.
        let _: JSONValue = try await client.patch(.configMaps, "a", namespace: ns, .merge(["binaryData": ["blob": "AAE="]]))
        var preserved: Preserved<ConfigMap> = try await client.get(.configMaps, "a", namespace: ns)
        preserved.value.data = ["k": "2"]
        let replaced = try await client.replace(.configMaps, "a", preserved, namespace: ns)
        #expect(replaced.value.data?["k"] == "2")
        #expect(replaced.original["binaryData"]?["blob"] == "AAE=")

        // A replace at a stale resourceVersion is a typed conflict.
        var stale = got
        stale.data = ["k": "stale"]
        await #expect {
            let _: ConfigMap = try await client.replace(.configMaps, "a", stale, namespace: ns)
        } throws: { ($0 as? KubeError)?.isConflict == true }

        try await client.delete(.configMaps, "a", namespace: ns)
        await #expect {
            let _: ConfigMap = try await client.get(.configMaps, "a", namespace: ns)
        } throws: { error in
            guard let k = error as? KubeError else { return false }
            return k.isNotFound && k.status?.reason == "NotFound" && k.status?.details?.name == "a"
        }
    }

    @Test func everyPatchType() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("patch", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        let _ = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "p"), data: ["a": "1", "b": "2"]), namespace: ns)

        // JSON merge patch: null deletes a key, others merge.
        var cm: ConfigMap = try await client.patch(.configMaps, "p", namespace: ns, .merge(["data": ["a": nil, "c": "3"]]))
        #expect(cm.data == ["b": "2", "c": "3"])

        // JSON patch, with a test operation guarding it.
        cm = try await client.patch(.configMaps, "p", namespace: ns, .json([.test("/data/b", "2"), .replace("/data/b", "20"), .add("/data/d", "4")]))
        #expect(cm.data == ["b": "20", "c": "3", "d": "4"])
        await #expect {
            let _: ConfigMap = try await client.patch(.configMaps, "p", namespace: ns, .json([.test("/data/b", "wrong"), .remove("/data/b")]))
        } throws: { ($0 as? KubeError)?.code == 422 }

        // Strategic merge patch on a built-in kind.
        cm = try await client.patch(.configMaps, "p", namespace: ns, .strategicMerge(["metadata": ["labels": ["tier": "web"]], "data": ["e": "5"]]))
        #expect(cm.metadata.labels == ["tier": "web"])
        #expect(cm.data?["e"] == "5")

        // Server-side apply: a second manager's conflicting apply fails unless forced.
        let intent: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "p"], "data": ["owned": "by-aviary"]]
        cm = try await client.patch(.configMaps, "p", namespace: ns, .apply(intent), fieldManager: "aviary-test")
        #expect(cm.data?["owned"] == "by-aviary")
        let rival: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "p"], "data": ["owned": "by-rival"]]
        await #expect {
            let _: ConfigMap = try await client.patch(.configMaps, "p", namespace: ns, .apply(rival), fieldManager: "rival")
        } throws: { ($0 as? KubeError)?.isConflict == true }
        cm = try await client.patch(.configMaps, "p", namespace: ns, .apply(rival), fieldManager: "rival", force: true)
        #expect(cm.data?["owned"] == "by-rival")
    }

    @Test func deleteWithPreconditionsAndPropagation() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("delete", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }

        let owner = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "owner")), namespace: ns)
        func child(_ name: String) -> ConfigMap {
            ConfigMap(metadata: ObjectMeta(name: name, ownerReferences: [
                OwnerReference(apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.metadata.uid!, controller: true)]))
        }
        let _ = try await client.create(.configMaps, child("kept"), namespace: ns)

        // A wrong UID precondition refuses the delete.
        await #expect {
            try await client.delete(.configMaps, "owner", namespace: ns, options: DeleteOptions(preconditions: .init(uid: "not-the-uid")))
        } throws: { ($0 as? KubeError)?.isConflict == true }

        // Orphan: the child stays and loses its owner reference.
        try await client.delete(.configMaps, "owner", namespace: ns,
                                options: DeleteOptions(preconditions: .init(uid: owner.metadata.uid), propagationPolicy: .Orphan))
        try await eventually("the orphan to lose its owner reference") {
            let c: ConfigMap = try await client.get(.configMaps, "kept", namespace: ns)
            return c.metadata.ownerReferences?.isEmpty ?? true
        }

        // Background: the garbage collector removes the child.
        let owner2 = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "owner2")), namespace: ns)
        let _ = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "collected", ownerReferences: [
            OwnerReference(apiVersion: "v1", kind: "ConfigMap", name: "owner2", uid: owner2.metadata.uid!, controller: true)])), namespace: ns)
        try await client.delete(.configMaps, "owner2", namespace: ns, options: DeleteOptions(propagationPolicy: .Background))
        try await eventually("the garbage collector to delete the child") {
            do {
                let _: ConfigMap = try await client.get(.configMaps, "collected", namespace: ns)
                return false
            } catch let e as KubeError where e.isNotFound { return true }
        }
    }

    @Test func statusAndScaleSubresources() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("subres", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        let rs: JSONValue = [
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": ["name": "web"],
            "spec": ["replicas": 1, "selector": ["matchLabels": ["app": "web"]],
                     "template": ["metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "c", "image": "nginx"]]]]],
        ]
        let _: JSONValue = try await client.create(.replicaSets, rs, namespace: ns)

        var scale: Scale = try await client.get(.replicaSets, "web", namespace: ns, subresource: "scale")
        #expect(scale.spec.replicas == 1)
        scale = try await client.patch(.replicaSets, "web", namespace: ns, .merge(["spec": ["replicas": 3]]), subresource: "scale")
        #expect(scale.spec.replicas == 3)
        try await eventually("the ReplicaSet to report 3 replicas through the scale subresource") {
            let s: Scale = try await client.get(.replicaSets, "web", namespace: ns, subresource: "scale")
            return s.status?.replicas == 3 && s.status?.selector == "app=web"
        }

        // Writing through the status subresource changes status, never spec.
        let afterStatus: JSONValue = try await client.patch(.replicaSets, "web", namespace: ns,
                                                            .merge(["spec": ["replicas": 7], "status": ["observedGeneration": 99]]),
                                                            subresource: "status")
        #expect(afterStatus["spec"]?["replicas"] == 3)
        #expect(afterStatus["status"]?["observedGeneration"] == 99)
    }

    @Test func aFiveThousandObjectListPaginates() async throws {
        let client = try TestCluster.client(qps: 0, burst: 0)
        let ns = try await TestCluster.namespace("page", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<50 {
                group.addTask {
                    for i in stride(from: worker, to: 5000, by: 50) {
                        let _ = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "cm-\(i)")), namespace: ns)
                    }
                }
            }
            try await group.waitForAll()
        }
        var pages = 0
        var names: [String] = []
        var token: String?
        repeat {
            let page: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: ns, options: ListOptions(limit: 700, continueToken: token))
            pages += 1
            names += page.items.compactMap(\.metadata.name)
            token = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
            if token != nil { #expect(page.items.count == 700) }
        } while token != nil
        #expect(pages == 8)
        #expect(names.count == 5000)
        #expect(Set(names).count == 5000)

        let all: ObjectList<ConfigMap> = try await client.listAll(.configMaps, namespace: ns)
        #expect(Set(all.items.compactMap(\.metadata.name)) == Set((0..<5000).map { "cm-\($0)" }))
        #expect(all.metadata.resourceVersion?.isEmpty == false)
    }
}
