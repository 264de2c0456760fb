import AviaryAPI
import Foundation
import Kube
import Rollouts

/// What each planned action is on the wire: pure, no client, no clock.
extension Executor {
    /// The writes that carry out one action in the Rollout's namespace, in
    /// order. An event is no write here: it goes out after the status, through
    /// `SideEffects` (see `eventRequest`).
    ///
    /// The switch is exhaustive on purpose: a new kind of action does not
    /// compile until it says what it sends.
    public static func requests(for action: Action, namespace ns: String?) throws -> [WriteRequest] {
        switch action {
        case .createReplicaSet(let rs):
            return [WriteRequest(.create(try JSONValue(encoding: rs)), .replicaSets, namespace: ns, name: rs.metadata.name,
                                 tolerated: .alreadyExists, answer: .replicaSet)]
        case .scaleReplicaSet(let name, let replicas):
            return [WriteRequest(.mergePatch(["spec": ["replicas": .number(Double(replicas))]]), .replicaSets, namespace: ns, name: name,
                                 answer: .replicaSet)]
        case .adoptReplicaSet(let name, let owner):
            return [WriteRequest(.mergePatch(["metadata": ["ownerReferences": [try JSONValue(encoding: owner)]]]), .replicaSets,
                                 namespace: ns, name: name, answer: .replicaSet)]
        case .annotateReplicaSet(let name, let annotations):
            return [WriteRequest(.mergePatch(["metadata": ["annotations": nullable(annotations)]]), .replicaSets, namespace: ns, name: name,
                                 answer: .replicaSet)]
        case .deleteReplicaSet(let name):
            return [WriteRequest(.delete(propagation: .Background), .replicaSets, namespace: ns, name: name, tolerated: .notFound)]
        case .deletePod(let name):
            return [WriteRequest(.delete(propagation: nil), .pods, namespace: ns, name: name, tolerated: .notFound, answer: .deletedPod)]
        case .setPodMetadata(let rsName, let podNames, let labels, let annotations):
            // The template first (new pods get it), then each existing pod in place; a pod gone meanwhile is fine.
            let meta: JSONValue = ["labels": nullable(labels), "annotations": nullable(annotations)]
            return [WriteRequest(.mergePatch(["spec": ["template": ["metadata": meta]]]), .replicaSets, namespace: ns, name: rsName,
                                 answer: .replicaSet)]
                + podNames.map { WriteRequest(.mergePatch(["metadata": meta]), .pods, namespace: ns, name: $0, tolerated: .notFound) }
        case .switchService(let name, let hash):
            return [WriteRequest(.mergePatch(["spec": ["selector": [podTemplateHashLabel: .string(hash)]]]), .services, namespace: ns,
                                 name: name, answer: .service)]
        case .patchRoute(let ref, let ops):
            // The route may live in another namespace (Gateway API's `namespace`); its test op guards the version read.
            return [WriteRequest(.jsonPatch(ops), ref.kind.resource, namespace: ref.namespace, name: ref.name, answer: .route(ref.kind))]
        case .createAnalysisRun(let run):
            return [WriteRequest(.create(try JSONValue(encoding: run)), AnalysisRun.resource, namespace: ns, name: run.metadata.name,
                                 tolerated: .alreadyExists, answer: .analysisRun)]
        case .terminateAnalysisRun(let name):
            return [WriteRequest(.mergePatch(["spec": ["terminate": true]]), AnalysisRun.resource, namespace: ns, name: name,
                                 tolerated: .notFound, answer: .analysisRun)]
        case .deleteAnalysisRun(let name):
            return [WriteRequest(.delete(propagation: .Background), AnalysisRun.resource, namespace: ns, name: name, tolerated: .notFound)]
        case .createConfigSnapshot:
            // Read, checked and copied by `Executor.createSnapshot`: no fixed request.
            return []
        case .setConfigSnapshotOwners(let ref, let owners):
            return [WriteRequest(.mergePatch(["metadata": ["ownerReferences": try JSONValue(encoding: owners)]]), ref.kind.resource,
                                 namespace: ns, name: ref.name, tolerated: .notFound, answer: .config(ref.kind))]
        case .deleteConfigSnapshot(let ref):
            return [WriteRequest(.delete(propagation: .Background), ref.kind.resource, namespace: ns, name: ref.name, tolerated: .notFound)]
        case .event:
            return []
        }
    }

    /// A map whose nil values delete the key in a merge patch.
    static func nullable(_ values: [String: String?]) -> JSONValue {
        .object(values.mapValues { $0.map(JSONValue.string) ?? .null })
    }

    /// The status write: only what changed, guarded by the resourceVersion the
    /// plan was made from, so a concurrent edit (a promote, an abort) gets a
    /// 409 and a fresh reconcile instead of being overwritten. nil: nothing changed.
    public static func statusRequest(_ status: RolloutStatus, of rollout: Rollout) throws -> WriteRequest? {
        let read = rollout.status ?? RolloutStatus()
        let before = try JSONValue.patchBase(read, repaired: read.repairs.value)
        let after = try JSONValue(encoding: status)
        guard let diff = JSONValue.mergePatch(from: before, to: after) else { return nil }
        let patch: JSONValue = ["metadata": ["resourceVersion": .string(rollout.metadata.resourceVersion ?? "")], "status": diff]
        return WriteRequest(.mergePatch(patch), Rollout.resource, namespace: rollout.metadata.namespace, name: rollout.metadata.name ?? "",
                            subresource: "status", answer: .rollout)
    }

    /// A core/v1 Event about a Rollout. `at` is when it happened (not when it
    /// is sent), and `suffix` makes the name unique.
    public static func eventRequest(_ event: Rollouts.Event, about meta: ObjectMeta, at time: MicroTime, suffix: UInt64,
                                    instance: String = Executor.instance) -> WriteRequest {
        let stamp = JSONValue.string(KubeTime(time.date).description)
        let name = "\(meta.name ?? "rollout").\(String(suffix, radix: 16))"
        let body: JSONValue = [
            "apiVersion": "v1", "kind": "Event",
            "metadata": ["name": .string(name), "namespace": .string(meta.namespace ?? "default")],
            "involvedObject": [
                "apiVersion": .string(Rollout.apiVersion), "kind": "Rollout", "name": .string(meta.name ?? ""),
                "namespace": .string(meta.namespace ?? ""), "uid": .string(meta.uid ?? ""),
                "resourceVersion": .string(meta.resourceVersion ?? ""),
            ],
            "reason": .string(event.reason.rawValue), "message": .string(event.message),
            "type": event.warning ? "Warning" : "Normal",
            "source": ["component": .string(component)],
            "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1,
            // eventTime has microseconds, so events of one second still sort in the order they happened
            // (`kubectl get events --sort-by=.eventTime`); with it the API asks for the instance and an action.
            "eventTime": .string(time.description), "action": .string(event.reason.rawValue),
            "reportingComponent": .string(component), "reportingInstance": .string(instance),
        ]
        return WriteRequest(.create(body), .events, namespace: meta.namespace)
    }
}
