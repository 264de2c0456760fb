import Foundation

public struct ListOptions: Sendable {
    public var labelSelector: String?
    public var fieldSelector: String?
    /// Page size; `listAll` follows `continue` tokens until the last page.
    public var limit: Int?
    public var continueToken: String?
    public var resourceVersion: String?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil,
                continueToken: String? = nil, resourceVersion: String? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
    }
}

public struct WatchOptions: Sendable {
    public var resourceVersion: String?
    public var labelSelector: String?
    public var fieldSelector: String?
    public var allowBookmarks: Bool
    /// The server closes the watch after this long; the reflector then resumes.
    public var timeoutSeconds: Int?
    /// Client side: drop the connection when nothing (not even a bookmark)
    /// arrives for this long. Off by default, since a quiet watch is normal.
    public var idleTimeout: Duration?

    public init(resourceVersion: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil,
                allowBookmarks: Bool = true, timeoutSeconds: Int? = nil, idleTimeout: Duration? = nil) {
        self.idleTimeout = idleTimeout
        self.resourceVersion = resourceVersion
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.allowBookmarks = allowBookmarks
        self.timeoutSeconds = timeoutSeconds
    }
}

public struct DeleteOptions: Codable, Sendable {
    public enum Propagation: String, Codable, Sendable { case Orphan, Background, Foreground }
    public struct Preconditions: Codable, Sendable {
        public var uid: String?
        public var resourceVersion: String?
        public init(uid: String? = nil, resourceVersion: String? = nil) {
            self.uid = uid
            self.resourceVersion = resourceVersion
        }
    }

    public var apiVersion = "v1"
    public var kind = "DeleteOptions"
    public var preconditions: Preconditions?
    public var propagationPolicy: Propagation?
    public var gracePeriodSeconds: Int?

    public init(preconditions: Preconditions? = nil, propagationPolicy: Propagation? = nil, gracePeriodSeconds: Int? = nil) {
        self.preconditions = preconditions
        self.propagationPolicy = propagationPolicy
        self.gracePeriodSeconds = gracePeriodSeconds
    }
}

/// The four ways to change part of an object.
public enum Patch: Sendable {
    /// RFC 7386: objects merge, `null` deletes, lists are replaced.
    case merge(JSONValue)
    /// RFC 6902 operations.
    case json([JSONPatchOperation])
    /// Kubernetes' list-aware merge (built-in kinds only; not custom resources).
    case strategicMerge(JSONValue)
    /// Server-side apply: the fields this manager owns, as a full intent.
    case apply(JSONValue)

    public var contentType: String {
        switch self {
        case .merge: return "application/merge-patch+json"
        case .json: return "application/json-patch+json"
        case .strategicMerge: return "application/strategic-merge-patch+json"
        case .apply: return "application/apply-patch+yaml"
        }
    }

    package func body() throws -> Data {
        switch self {
        case .merge(let v), .strategicMerge(let v), .apply(let v): return try JSONEncoder().encode(v)
        case .json(let ops): return try JSONEncoder().encode(ops)
        }
    }
}

public struct JSONPatchOperation: Codable, Sendable, Hashable {
    public var op: String
    public var path: String
    public var value: JSONValue?
    public var from: String?

    public init(op: String, path: String, value: JSONValue? = nil, from: String? = nil) {
        self.op = op
        self.path = path
        self.value = value
        self.from = from
    }

    public static func add(_ path: String, _ value: JSONValue) -> Self { .init(op: "add", path: path, value: value) }
    public static func replace(_ path: String, _ value: JSONValue) -> Self { .init(op: "replace", path: path, value: value) }
    public static func remove(_ path: String) -> Self { .init(op: "remove", path: path) }
    public static func test(_ path: String, _ value: JSONValue) -> Self { .init(op: "test", path: path, value: value) }
}

/// autoscaling/v1 Scale, the scale subresource's body.
public struct Scale: Codable, Sendable {
    public struct Spec: Codable, Sendable { public var replicas: Int? }
    public struct ScaleStatus: Codable, Sendable {
        public var replicas: Int
        public var selector: String?
    }
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: ScaleStatus?
}
