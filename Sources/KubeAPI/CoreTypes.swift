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

    /// A pod's status as a cache keeps it: a controller holds one per pod
    /// in the cluster, so decoding keeps only what is read: the Ready
    /// condition (`isReady`) and, of each container's status, its name,
    /// restartCount and the state reasons (the `pods` analysis provider's
    /// `PodHealth`), a reason cut to 64 characters. The rest of a real
    /// status (image IDs, container IDs, start times, the other conditions)
    /// was most of a cached pod's memory at 10,000 pods.
    public struct PodStatus: Codable, Sendable {
        public var phase: String?
        public var podIP: String?
        public var conditions: [PodCondition]?
        public var containerStatuses: [JSONValue]?

        /// The longest state reason kept.
        public static let maxReasonLength = 64

        public init(phase: String? = nil, podIP: String? = nil, conditions: [PodCondition]? = nil, containerStatuses: [JSONValue]? = nil) {
            self.phase = phase
            self.podIP = podIP
            self.conditions = conditions
            self.containerStatuses = containerStatuses
        }

        private enum Keys: String, CodingKey { case phase, podIP, conditions, containerStatuses }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            phase = try c.decodeIfPresent(String.self, forKey: .phase)
            podIP = try c.decodeIfPresent(String.self, forKey: .podIP)
            conditions = try c.decodeIfPresent([PodCondition].self, forKey: .conditions)?.filter { $0.type == "Ready" }
            containerStatuses = try c.decodeIfPresent([JSONValue].self, forKey: .containerStatuses)?.map(Self.compact)
        }

        /// One container's status, down to what `PodHealth` reads.
        static func compact(_ status: JSONValue) -> JSONValue {
            func reason(_ path: String...) -> JSONValue? {
                var v: JSONValue? = status
                for key in path { v = v?[key] }
                return v?.stringValue.map { .string(String($0.prefix(maxReasonLength))) }
            }
            var out: [String: JSONValue] = [:]
            if let name = status["name"]?.stringValue { out["name"] = .string(String(name.prefix(253))) }
            if case .number? = status["restartCount"] { out["restartCount"] = status["restartCount"] }
            var state: [String: JSONValue] = [:]
            if let r = reason("state", "terminated", "reason") { state["terminated"] = ["reason": r] }
            if let r = reason("state", "waiting", "reason") { state["waiting"] = ["reason": r] }
            if !state.isEmpty { out["state"] = .object(state) }
            if let r = reason("lastState", "terminated", "reason") { out["lastState"] = ["terminated": ["reason": r]] }
            return .object(out)
        }
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
