/// The few core/v1 objects the client itself and its tests need. Pod specs stay
/// raw JSON; only the fields the readiness simulator reads are typed.
public struct ConfigMap: KubeObject, Hashable {
    public var apiVersion: String? = "v1"
    public var kind: String? = "ConfigMap"
    public var metadata: ObjectMeta
    public var data: [String: String]?

    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.metadata = metadata
        self.data = data
    }
}

public struct Pod: KubeObject {
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: PodStatus?

    public struct PodSpec: Codable, Sendable {
        public var containers: [Container]
        public var nodeName: String?
        /// "Never" or "OnFailure" for a Job's pods, which run to completion.
        public var restartPolicy: String?
    }

    public struct Container: Codable, Sendable {
        public var name: String
        public var image: String?
    }

    public struct PodStatus: Codable, Sendable {
        public var phase: String?
        public var podIP: String?
        public var conditions: [PodCondition]?
        public var containerStatuses: [JSONValue]?
    }

    public struct PodCondition: Codable, Sendable {
        public var type: String
        public var status: String
        public var lastTransitionTime: KubeTime?
    }

    public var isReady: Bool {
        status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } ?? false
    }
}

/// A Namespace, a Secret, a ServiceAccount: only metadata is read by the client.
public struct Metadata: KubeObject {
    public var metadata: ObjectMeta
    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

/// A Secret's data (base64, as the API sends it). Read only where a value is needed, never cached.
public struct Secret: KubeObject {
    public var apiVersion: String? = "v1"
    public var kind: String? = "Secret"
    public var metadata: ObjectMeta
    public var data: [String: String]?

    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.metadata = metadata
        self.data = data
    }
}
