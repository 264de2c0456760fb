import AviaryAPI
import Kube

extension TestCluster {
    /// examples/canary-rollout.yaml in `namespace`: its two Services and the
    /// Rollout, with these annotations, steps and replicas.
    static func createExampleCanary(in namespace: String, client: KubeClient, annotations: [String: String] = [:],
                                    steps: JSONValue, replicas: Int = 2) async throws {
        for doc in try example("canary-rollout.yaml") {
            if doc["kind"] == "Rollout" {
                let r = doc.overlaid(with: ["metadata": ["annotations": .object(annotations.mapValues(JSONValue.string))],
                                            "spec": ["replicas": .number(Double(replicas))]])
                    .setting(["spec", "strategy", "canary", "steps"], to: steps)
                let _: JSONValue = try await client.create(Rollout.resource, r, namespace: namespace)
            } else {
                let _: JSONValue = try await client.create(.services, doc, namespace: namespace)
            }
        }
    }
}
