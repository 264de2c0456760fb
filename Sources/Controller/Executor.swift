import AviaryAPI
import Foundation
import Kube
import Logging
import Rollouts

/// Applies a plan through the API, action by action, then writes the status.
/// Every action is safe to repeat: a stale cache may plan one twice.
public struct Executor: Sendable {
    let client: KubeClient
    let logger: Logger
    /// Closed when leadership is lost: no write goes out after that.
    let fence: WriteFence
    public static let component = "aviary-controller"
    /// This process, for events' reportingInstance (at most 128 characters).
    static let instance = String(ProcessInfo.processInfo.hostName.prefix(128))

    public init(client: KubeClient, logger: Logger, fence: WriteFence = WriteFence()) {
        self.client = client
        self.logger = logger
        self.fence = fence
    }

    /// Where the API's answers to our writes go at once (the informer caches),
    /// so the next reconcile sees them even if a later call of this one fails.
    public struct Caches: Sendable {
        public var replicaSet: @Sendable (ReplicaSet) -> Void
        public var service: @Sendable (Service) -> Void
        public var rollout: @Sendable (Rollout) -> Void
        public var analysisRun: @Sendable (AnalysisRun) -> Void

        public init(replicaSet: @escaping @Sendable (ReplicaSet) -> Void, service: @escaping @Sendable (Service) -> Void,
                    rollout: @escaping @Sendable (Rollout) -> Void, analysisRun: @escaping @Sendable (AnalysisRun) -> Void) {
            self.replicaSet = replicaSet
            self.service = service
            self.rollout = rollout
            self.analysisRun = analysisRun
        }
    }

    /// Changes first, then the status, then the events (in the background): a
    /// status write that loses a race (409) is planned again from fresh state,
    /// and its events are only recorded by the attempt that succeeds.
    public func apply(_ plan: Plan, to rollout: Rollout, caches: Caches) async throws {
        let ns = rollout.metadata.namespace
        var events: [Rollouts.Event] = []
        for action in plan.actions {
            try fence.check()
            switch action {
            case .createReplicaSet(let rs):
                do {
                    caches.replicaSet(try await client.create(.replicaSets, rs, namespace: ns))
                } catch let e as KubeError where e.isAlreadyExists {}
            case .scaleReplicaSet(let name, let replicas):
                caches.replicaSet(try await client.patch(.replicaSets, name, namespace: ns, .merge(["spec": ["replicas": .number(Double(replicas))]])))
            case .adoptReplicaSet(let name, let owner):
                caches.replicaSet(try await client.patch(.replicaSets, name, namespace: ns,
                                                         .merge(["metadata": ["ownerReferences": [try JSONValue(encoding: owner)]]])))
            case .annotateReplicaSet(let name, let annotations):
                let values = JSONValue.object(annotations.mapValues { $0.map(JSONValue.string) ?? .null })
                caches.replicaSet(try await client.patch(.replicaSets, name, namespace: ns, .merge(["metadata": ["annotations": values]])))
            case .deleteReplicaSet(let name):
                do {
                    try await client.delete(.replicaSets, name, namespace: ns, options: DeleteOptions(propagationPolicy: .Background))
                } catch let e as KubeError where e.isNotFound {}
            case .deletePod(let name):
                do {
                    try await client.delete(.pods, name, namespace: ns)
                } catch let e as KubeError where e.isNotFound {}
            case .setPodMetadata(let rsName, let podNames, let labels, let annotations):
                func values(_ m: [String: String?]) -> JSONValue { .object(m.mapValues { $0.map(JSONValue.string) ?? .null }) }
                let meta: JSONValue = ["labels": values(labels), "annotations": values(annotations)]
                caches.replicaSet(try await client.patch(.replicaSets, rsName, namespace: ns, .merge(["spec": ["template": ["metadata": meta]]])))
                for pod in podNames {
                    do {
                        let _: Pod = try await client.patch(.pods, pod, namespace: ns, .merge(["metadata": meta]))
                    } catch let e as KubeError where e.isNotFound {}
                }
            case .switchService(let name, let hash):
                caches.service(try await client.patch(.services, name, namespace: ns,
                                                      .merge(["spec": ["selector": [podTemplateHashLabel: .string(hash)]]])))
            case .createAnalysisRun(let run):
                do {
                    caches.analysisRun(try await client.create(AnalysisRun.resource, run, namespace: ns))
                } catch let e as KubeError where e.isAlreadyExists {}
            case .terminateAnalysisRun(let name):
                do {
                    caches.analysisRun(try await client.patch(AnalysisRun.resource, name, namespace: ns, .merge(["spec": ["terminate": true]])))
                } catch let e as KubeError where e.isNotFound {}
            case .deleteAnalysisRun(let name):
                do {
                    try await client.delete(AnalysisRun.resource, name, namespace: ns, options: DeleteOptions(propagationPolicy: .Background))
                } catch let e as KubeError where e.isNotFound {}
            case .event(let event):
                events.append(event)
            }
        }
        try fence.check()
        if let written = try await writeStatus(plan.status, of: rollout) { caches.rollout(written) }
        // Events go out on their own: best effort, and not worth holding a worker
        // (at 100 Rollouts updated at once this halves the slowest reconciles).
        if !events.isEmpty {
            Task { [self] in
                for event in events { await record(event, about: rollout.metadata, step: rollout.status?.currentStepIndex) }
            }
        }
    }

    /// Merge-patches only what changed, with the resourceVersion the plan was
    /// made from: if someone else wrote in between (a promote, an abort), the
    /// API answers 409 and the reconcile runs again on fresh state, so no
    /// field another client set is lost.
    func writeStatus(_ status: RolloutStatus, of rollout: Rollout) async throws -> Rollout? {
        let read = rollout.status ?? RolloutStatus()
        let before = try JSONValue.patchBase(read, repaired: read.repairs.value)
        let after = try JSONValue(encoding: status)
        guard let diff = JSONValue.mergePatch(from: before, to: after) else { return nil }
        let patch: JSONValue = ["metadata": ["resourceVersion": .string(rollout.metadata.resourceVersion ?? "")], "status": diff]
        return try await client.patch(Rollout.resource, rollout.metadata.name ?? "", namespace: rollout.metadata.namespace,
                                      .merge(patch), subresource: "status")
    }

    /// Events are best effort: a failure is logged, never fails the reconcile.
    func record(_ event: Rollouts.Event, about meta: ObjectMeta, step: Int? = nil) async {
        guard fence.isOpen else { return }
        let now = JSONValue.string(KubeTime.now().description)
        let name = "\(meta.name ?? "rollout").\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
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
            "source": ["component": .string(Self.component)],
            "firstTimestamp": now, "lastTimestamp": now, "count": 1,
            // eventTime has microseconds, so events of one second still sort in the order they happened
            // (`kubectl get events --sort-by=.eventTime`); with it the API asks for the instance and an action.
            "eventTime": .string(MicroTime.now().description), "action": .string(event.reason.rawValue),
            "reportingComponent": .string(Self.component), "reportingInstance": .string(Self.instance),
        ]
        do {
            let _: JSONValue = try await client.create(.events, body, namespace: meta.namespace)
        } catch {
            logger.warning("cannot record event \(event.reason.rawValue) for \(meta.namespace ?? "")/\(meta.name ?? ""): \(error)")
        }
        var metadata: Logger.Metadata = ["namespace": "\(meta.namespace ?? "")", "rollout": "\(meta.name ?? "")",
                                         "reason": "\(event.reason.rawValue)"]
        if let step { metadata["step"] = "\(step)" }
        logger.info("\(event.message)", metadata: metadata)
    }
}
