import AviaryAPI
import Foundation
import Kube
import Testing

@Suite struct RolloutCRDTests {
    @Test func theExampleRoundTripsThroughTheRealAPIServer() async throws {
        try TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("crd", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }

        let docs = try TestCluster.example("canary-rollout.yaml")
        let manifest = try #require(docs.first { $0["kind"] == "Rollout" })
        let created: JSONValue = try await client.create(Rollout.resource, manifest, namespace: ns)
        #expect(created["metadata"]?["generation"] == 1)

        let rollout: Rollout = try await client.get(Rollout.resource, "web", namespace: ns)
        #expect(rollout.spec.replicas == 10)
        #expect(rollout.spec.strategy?.canary?.steps?.count == 6)
        #expect(try rollout.spec.strategy?.canary?.steps?[1].pause?.seconds() == 5)
        #expect(rollout.spec.strategy?.canary?.steps?[3].pause != nil)
        #expect(try rollout.spec.strategy?.canary?.steps?[3].pause?.seconds() == nil)

        // No field of the example is lost through our model.
        #expect(try JSONValue(encoding: rollout.spec) == manifest["spec"])

        // The scale subresource works, so `kubectl scale` and an HPA can drive it.
        try TestCluster.kubectl("-n", ns, "scale", "rollout/web", "--replicas=4")
        let scaled: Rollout = try await client.get(Rollout.resource, "web", namespace: ns)
        #expect(scaled.spec.replicas == 4)

        // The printer columns are there for `kubectl get`.
        let table = try TestCluster.kubectl("-n", ns, "get", "aro", "web")
        #expect(table.hasPrefix("NAME   DESIRED   CURRENT   UP-TO-DATE   AVAILABLE   PHASE   STEP   WEIGHT   AGE"))
    }

    @Test func anArgoManifestIsAcceptedWithOnlyItsAPIVersionChanged() async throws {
        try TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("argo", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        let converted = convertedArgoManifest()
        let manifest = try #require(try JSONValue.documents(fromYAML: converted).first)
        let _: JSONValue = try await client.create(Rollout.resource, manifest, namespace: ns)
        let rollout: Rollout = try await client.get(Rollout.resource, "rollouts-demo", namespace: ns)
        #expect(try rollout.spec.strategy?.canary?.steps?.compactMap { try $0.pause?.seconds() } == [1, 1, 0])
        #expect(try JSONValue(encoding: rollout.spec) == manifest["spec"])
    }
}
