import Foundation
import Kube
import Testing

/// The readiness simulator that scripts/test.sh runs beside the control plane.
@Suite struct PodSimTests {
    struct ReplicaSetStatus: Decodable, Sendable {
        struct S: Decodable, Sendable { var replicas: Int?; var readyReplicas: Int?; var availableReplicas: Int? }
        var status: S?
    }

    func replicaSet(_ name: String, replicas: Int, annotations: [String: String]) -> JSONValue {
        [
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": ["name": .string(name)],
            "spec": [
                "replicas": .number(Double(replicas)), "selector": ["matchLabels": ["app": .string(name)]],
                "template": [
                    "metadata": ["labels": ["app": .string(name)], "annotations": .object(annotations.mapValues { .string($0) })],
                    "spec": ["containers": [["name": "app", "image": "registry.example/app:1"]]],
                ],
            ],
        ]
    }

    @Test func podsBecomeReadyAndAnnotationsSteerThem() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("podsim", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("good", replicas: 3, annotations: [:]), namespace: ns)
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("stuck", replicas: 2, annotations: ["podsim.aviary.dev/ready": "false"]),
                                                   namespace: ns)
        let _: JSONValue = try await client.create(.replicaSets, replicaSet("flaky", replicas: 1, annotations: ["podsim.aviary.dev/restarts": "4"]),
                                                   namespace: ns)

        try await eventually("3 ready pods in the good ReplicaSet") {
            let rs: ReplicaSetStatus = try await client.get(.replicaSets, "good", namespace: ns)
            return rs.status?.readyReplicas == 3 && rs.status?.availableReplicas == 3
        }
        try await eventually("the stuck pods to run without becoming ready") {
            let pods: ObjectList<Pod> = try await client.list(.pods, namespace: ns, options: ListOptions(labelSelector: "app=stuck"))
            return pods.items.count == 2 && pods.items.allSatisfy { $0.status?.phase == "Running" && !$0.isReady }
        }
        let stuck: ReplicaSetStatus = try await client.get(.replicaSets, "stuck", namespace: ns)
        #expect((stuck.status?.readyReplicas ?? 0) == 0)
        try await eventually("the flaky pod to report 4 restarts") {
            let pods: ObjectList<Pod> = try await client.list(.pods, namespace: ns, options: ListOptions(labelSelector: "app=flaky"))
            return pods.items.first?.status?.containerStatuses?.first?["restartCount"] == 4
        }
    }
}
