import Analysis
import AviaryAPI
import Foundation
import Kube
import Testing

@Suite struct RolloutCRDTests {
    @Test func theExampleRoundTripsThroughTheRealAPIServer() async throws {
        try await TestCluster.installCRDs()
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
        #expect(try rollout.spec.strategy?.canary?.steps?[1].pauseStep?.seconds() == 5)
        #expect(rollout.spec.strategy?.canary?.steps?[3].pauseStep != nil)
        #expect(try rollout.spec.strategy?.canary?.steps?[3].pauseStep?.seconds() == nil)

        // No field of the example is lost through our model.
        #expect(try JSONValue(encoding: rollout.spec) == manifest["spec"])

        // The scale subresource works, so `kubectl scale` and an HPA can drive it.
        try await TestCluster.kubectl("-n", ns, "scale", "rollout/web", "--replicas=4")
        let scaled: Rollout = try await client.get(Rollout.resource, "web", namespace: ns)
        #expect(scaled.spec.replicas == 4)

        // The printer columns are there for `kubectl get`.
        let table = try await TestCluster.kubectl("-n", ns, "get", "aro", "web")
        #expect(table.hasPrefix("NAME   DESIRED   CURRENT   UP-TO-DATE   AVAILABLE   PHASE   STEP   WEIGHT   AGE"))
    }

    @Test func anArgoManifestIsAcceptedWithOnlyItsAPIVersionChanged() async throws {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("argo", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        let converted = convertedArgoManifest()
        let manifest = try #require(try JSONValue.documents(fromYAML: converted).first)
        let _: JSONValue = try await client.create(Rollout.resource, manifest, namespace: ns)
        let rollout: Rollout = try await client.get(Rollout.resource, "rollouts-demo", namespace: ns)
        #expect(try rollout.spec.strategy?.canary?.steps?.compactMap { try $0.pauseStep?.seconds() } == [1, 1, 0])
        #expect(try JSONValue(encoding: rollout.spec) == manifest["spec"])
    }
}

@Suite struct AnalysisCRDTests {
    @Test func theExampleTemplatesRoundTripAndTheirConditionsParse() async throws {
        try await TestCluster.installCRDs()
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("at", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        for doc in try TestCluster.example("analysis-templates.yaml") {
            let _: JSONValue = try await client.create(AnalysisTemplate.resource, doc, namespace: ns)
            let name = doc["metadata"]?["name"]?.stringValue ?? ""
            let template: AnalysisTemplate = try await client.get(AnalysisTemplate.resource, name, namespace: ns)
            #expect(try JSONValue(encoding: template.spec) == doc["spec"], "\(name) keeps every field")
            #expect(template.spec.metrics.first?.provider.prometheus?.query.contains("{{args.service}}") == true)
            for metric in template.spec.metrics {
                #expect(throws: Never.self, "\(metric.name)'s condition parses") { _ = try metric.successCondition.map(Analysis.Expression.parse) }
            }
        }
        // The same spec as a cluster-wide template and as a run.
        let spec = try #require(try TestCluster.example("analysis-templates.yaml").first?["spec"])
        let cat: JSONValue = ["apiVersion": "aviary.dev/v1alpha1", "kind": "ClusterAnalysisTemplate", "metadata": ["name": .string("sr-\(ns)")], "spec": spec]
        let _: JSONValue = try await client.create(AnalysisTemplate.clusterResource, cat)
        try await client.delete(AnalysisTemplate.clusterResource, "sr-\(ns)")
        let run: JSONValue = ["apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisRun", "metadata": ["name": "web-abc-2"], "spec": spec]
        let _: JSONValue = try await client.create(AnalysisRun.resource, run, namespace: ns)
        let table = try await TestCluster.kubectl("-n", ns, "get", "ar", "web-abc-2")
        #expect(table.hasPrefix("NAME        PHASE   VALUES   AGE"))
    }
}
