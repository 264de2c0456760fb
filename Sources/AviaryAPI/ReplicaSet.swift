import KubeAPI

/// The label that ties a ReplicaSet, its selector, its pods and the Services to one template.
public let podTemplateHashLabel = "rollouts-pod-template-hash"
/// The revision annotation on each ReplicaSet a Rollout owns.
public let revisionAnnotation = "rollout.aviary.dev/revision"
/// The template digest (see `PodTemplateHash.digest`), for telling collisions apart.
public let templateDigestAnnotation = "rollout.aviary.dev/template-digest"

/// The fields of a ReplicaSet the controller reads; the template stays raw.
public struct ReplicaSet: KubeObject {
    public var apiVersion: String? = "apps/v1"
    public var kind: String? = "ReplicaSet"
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?
    /// Set when `spec.template.spec` has been cut down for a cache (see
    /// `CachedReplicaSet` in Rollouts): the digest of the whole pod spec it
    /// had, so a template can still be recognised as this ReplicaSet's. Never
    /// sent or read on the wire.
    public var cachedSpecDigest: String?

    private enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, spec, status }

    public struct Spec: Codable, Sendable, Hashable {
        public var replicas: Int?
        public var minReadySeconds: Int?
        public var selector: LabelSelector
        public var template: JSONValue?

        public init(replicas: Int?, minReadySeconds: Int? = nil, selector: LabelSelector, template: JSONValue?) {
            self.replicas = replicas
            self.minReadySeconds = minReadySeconds
            self.selector = selector
            self.template = template
        }
    }

    public struct Status: Codable, Sendable, Hashable {
        public var replicas: Int?
        public var readyReplicas: Int?
        public var availableReplicas: Int?
        public var observedGeneration: Int64?

        public init(replicas: Int? = nil, readyReplicas: Int? = nil, availableReplicas: Int? = nil, observedGeneration: Int64? = nil) {
            self.replicas = replicas
            self.readyReplicas = readyReplicas
            self.availableReplicas = availableReplicas
            self.observedGeneration = observedGeneration
        }
    }

    public init(metadata: ObjectMeta, spec: Spec, status: Status? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public var podTemplateHash: String? { metadata.labels?[podTemplateHashLabel] }
    public var desiredReplicas: Int { spec.replicas ?? 1 }
    public var availableReplicas: Int { status?.availableReplicas ?? 0 }
    /// The revision annotation, when it is a number aviary could have written (anyone may edit an annotation).
    public var revision: Int? {
        metadata.annotations?[revisionAnnotation].flatMap { Int($0) }.flatMap { (0...Limits.maxRevision).contains($0) ? $0 : nil }
    }
    public var templateDigest: String? { metadata.annotations?[templateDigestAnnotation] }
}

/// The fields of a Service the controller reads and writes.
public struct Service: KubeObject {
    public var metadata: ObjectMeta
    public var spec: Spec?

    public struct Spec: Codable, Sendable, Hashable {
        public var selector: [String: String]?
        public init(selector: [String: String]?) { self.selector = selector }
    }

    public init(metadata: ObjectMeta, spec: Spec?) {
        self.metadata = metadata
        self.spec = spec
    }
}
/// On an AnalysisRun: the step that started it, or "background".
public let analysisStepLabel = "rollout.aviary.dev/analysis-step"
/// On an old ReplicaSet after a blue-green promotion: when it may be scaled down.
public let scaleDownDeadlineAnnotation = "rollout.aviary.dev/scale-down-deadline"

extension ReplicaSet {
    /// The pod template without the hash label the controller added: what the Rollout's template was (plus API defaults).
    public var templateWithoutHash: JSONValue? {
        guard var template = spec.template, case .object(var labels)? = template["metadata"]?["labels"] else { return spec.template }
        labels[podTemplateHashLabel] = nil
        template = template.setting(["metadata", "labels"], to: .object(labels))
        return template
    }
}
