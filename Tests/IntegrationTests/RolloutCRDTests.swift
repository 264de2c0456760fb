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
        let argo = """
            apiVersion: argoproj.io/v1alpha1
            kind: Rollout
            metadata:
              name: rollouts-demo
            spec:
              replicas: 5
              revisionHistoryLimit: 2
              selector:
                matchLabels:
                  app: rollouts-demo
              template:
                metadata:
                  labels:
                    app: rollouts-demo
                spec:
                  containers:
                  - name: rollouts-demo
                    image: argoproj/rollouts-demo:blue
                    ports:
                    - name: http
                      containerPort: 8080
                      protocol: TCP
              strategy:
                canary:
                  maxSurge: "25%"
                  maxUnavailable: 0
                  steps:
                  - setWeight: 20
                  - pause: {}
                  - setWeight: 40
                  - pause: {duration: 10}
                  - setWeight: 60
                  - pause: {duration: 10s}
                  - setWeight: 80
                  - pause: {duration: 1m}
            """
        let converted = argo.replacingOccurrences(of: "apiVersion: argoproj.io/v1alpha1", with: "apiVersion: aviary.dev/v1alpha1")
        let manifest = try #require(try JSONValue.documents(fromYAML: converted).first)
        let _: JSONValue = try await client.create(Rollout.resource, manifest, namespace: ns)
        let rollout: Rollout = try await client.get(Rollout.resource, "rollouts-demo", namespace: ns)
        #expect(try rollout.spec.strategy?.canary?.steps?.compactMap { try $0.pause?.seconds() } == [10, 10, 60])
        #expect(try JSONValue(encoding: rollout.spec) == manifest["spec"])
    }
}
