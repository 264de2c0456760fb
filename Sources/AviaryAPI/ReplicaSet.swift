import Kube

/// The label that ties a ReplicaSet, its selector, its pods and the Services to one template.
public let podTemplateHashLabel = "rollouts-pod-template-hash"
/// The revision annotation on each ReplicaSet a Rollout owns.
public let revisionAnnotation = "rollout.aviary.dev/revision"
/// When a ReplicaSet that lost its role may be scaled down.
public let scaleDownDeadlineAnnotation = "rollout.aviary.dev/scale-down-deadline"

/// The fields of a ReplicaSet the controller reads; the template stays raw.
public struct ReplicaSet: KubeObject {
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "ReplicaSet"
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public struct Spec: Codable, Sendable, Hashable {
        public var replicas: Int?
        public var minReadySeconds: Int?
        public var selector: LabelSelector
        public var template: JSONValue?
    }

    public struct Status: Codable, Sendable, Hashable {
        public var replicas: Int?
        public var readyReplicas: Int?
        public var availableReplicas: Int?
        public var observedGeneration: Int64?
    }

    public init(metadata: ObjectMeta, spec: Spec, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public var podTemplateHash: String? { metadata.labels?[podTemplateHashLabel] }
    public var desiredReplicas: Int { spec.replicas ?? 1 }
    public var availableReplicas: Int { status?.availableReplicas ?? 0 }
    public var revision: Int? { metadata.annotations?[revisionAnnotation].flatMap { Int($0) } }
}

/// The fields of a Service the controller reads and writes.
public struct Service: KubeObject {
    public var metadata: ObjectMeta
    public var spec: Spec?

    public struct Spec: Codable, Sendable, Hashable {
        public var selector: [String: String]?
    }

    public init(metadata: ObjectMeta, spec: Spec?) {
        self.metadata = metadata
        self.spec = spec
    }
}
