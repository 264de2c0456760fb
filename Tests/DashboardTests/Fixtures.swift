import AviaryAPI
import Dashboard
import Foundation
import KubeAPI
import Plugin
import Rollouts

/// A canary at step 2 of 3 (analysis running), with its two ReplicaSets, a pod and the run.
enum Fixtures {
    static func replicaSet(_ hash: String, image: String, revision: Int, desired: Int, available: Int) -> ReplicaSet {
        var rs = ReplicaSet(
            metadata: ObjectMeta(name: "web-\(hash)", namespace: "shop", labels: [podTemplateHashLabel: hash],
                                 annotations: [revisionAnnotation: String(revision)], ownerReferences: [owner]),
            spec: ReplicaSet.Spec(replicas: desired, selector: LabelSelector(matchLabels: ["app": "web"]),
                                  template: ["spec": ["containers": [["name": "web", "image": .string(image)]]]]))
        rs.status = .init(replicas: desired, readyReplicas: available, availableReplicas: available)
        return rs
    }

    static let owner = OwnerReference(apiVersion: "aviary.dev/v1alpha1", kind: "Rollout", name: "web", uid: "uid-web", controller: true)

    static func rollout(name: String = "web", phase: RolloutPhase = .Progressing, labels: [String: String] = ["app": "web"]) -> Rollout {
        var r = Rollout(metadata: ObjectMeta(name: name, namespace: "shop", labels: labels),
                        spec: RolloutSpec(replicas: 4, strategy: RolloutStrategy(canary: CanaryStrategy(steps: [.weight(25), .analysis(RolloutAnalysis()), .weight(50)]))))
        r.metadata.generation = 2
        r.metadata.uid = "uid-\(name)"
        var s = RolloutStatus()
        s.observedGeneration = 2
        s.phase = phase
        s.message = "waiting for analysis run web-bbb-1 (Running) at step 2/3"
        s.stableRS = "aaa"
        s.currentPodHash = "bbb"
        s.currentStepIndex = 1
        s.canary = CanaryStatus(weights: .init(canary: .init(weight: 25, podTemplateHash: "bbb"), stable: .init(weight: 75, podTemplateHash: "aaa")))
        s.replicas = 4
        s.updatedReplicas = 1
        s.readyReplicas = 4
        s.availableReplicas = 4
        r.status = s
        return r
    }

    static var replicaSets: [ReplicaSet] {
        [replicaSet("aaa", image: "web:1", revision: 1, desired: 3, available: 3), replicaSet("bbb", image: "web:2", revision: 2, desired: 1, available: 1)]
    }

    static func pod() throws -> Pod {
        let json: JSONValue = ["metadata": ["name": "web-bbb-x1", "namespace": "shop", "labels": [.init(stringLiteral: podTemplateHashLabel): "bbb"]],
                               "status": ["phase": "Running", "conditions": [["type": "Ready", "status": "True"]]]]
        return try JSONDecoder().decode(Pod.self, from: try JSONEncoder().encode(json))
    }

    static func run(values: [String?] = ["[0.99]", "[0.97]", "NaN", nil, "[1e400]"]) -> AnalysisRun {
        let metric = Metric(name: "success-rate", successCondition: "len(result) == 0 || result[0] >= 0.95", failureLimit: 2,
                            provider: MetricProvider(prometheus: PrometheusMetric(address: "http://prom:9090", query: "up")))
        var run = AnalysisRun(metadata: ObjectMeta(name: "web-bbb-1", namespace: "shop", labels: [podTemplateHashLabel: "bbb", analysisStepLabel: "1"],
                                                 ownerReferences: [owner]),
                              spec: AnalysisSpec(metrics: [metric]))
        var status = AnalysisRunStatus()
        status.phase = .Running
        status.summary = "success-rate=[0.99]"
        var result = MetricResult(name: "success-rate", phase: .Running)
        result.measurements = values.enumerated().map { i, v in
            AnalysisMeasurement(phase: v == nil ? .Error : .Successful, message: v == nil ? "connection refused" : nil,
                                startedAt: KubeTime(secondsSinceEpoch: 1_000 + Int64(i) * 10), finishedAt: KubeTime(secondsSinceEpoch: 1_001 + Int64(i) * 10), value: v)
        }
        result.count = values.count
        result.successful = values.count - 1
        result.error = 1
        status.metricResults = [result]
        run.status = status
        return run
    }

    static func input() throws -> RolloutTree.Input {
        RolloutTree.Input(rollout: rollout(), replicaSets: replicaSets, pods: [try pod()], runs: [run()])
    }

    static func encode(_ value: some Encodable) throws -> [String: Any] {
        let data = try JSONEncoder().encode(value)
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }
}

/// A `DashboardSource` over fixed objects.
struct FixedSource: DashboardSource {
    var items: [Rollout]
    var sets: [ReplicaSet] = Fixtures.replicaSets
    var pods: [Pod] = []
    var runs: [AnalysisRun] = []
    var eventList: [ReportEvent] = []

    func rollouts() -> [Rollout] { items }
    func rollout(namespace: String, name: String) -> Rollout? { items.first { $0.metadata.namespace == namespace && $0.metadata.name == name } }
    func family(of rollout: Rollout) -> Ownership.Family {
        Ownership.family(of: rollout, replicaSets: sets, pods: pods, analysisRuns: runs)
    }
    func events(of rollout: Rollout) -> [ReportEvent] { eventList }
}
