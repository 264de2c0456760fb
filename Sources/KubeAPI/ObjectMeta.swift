/// The metadata fields Aviary reads. Anything else stays in the server's copy:
/// writes are patches, so unmodelled fields are never sent back empty.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: KubeTime?
    public var deletionTimestamp: KubeTime?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
                annotations: [String: String]? = nil, ownerReferences: [OwnerReference]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.ownerReferences = ownerReferences
    }
}

public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil, blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

public struct ListMeta: Codable, Sendable, Hashable {
    public var resourceVersion: String?
    public var `continue`: String?
    public var remainingItemCount: Int64?

    public init(resourceVersion: String? = nil) { self.resourceVersion = resourceVersion }
}

/// Anything with object metadata.
public protocol KubeObject: Codable, Sendable {
    var metadata: ObjectMeta { get }
}

/// A list, decoded one item at a time: an item that does not fit `T` lands in
/// `undecodable` (named, with the field that is wrong) instead of failing the
/// whole list, so one bad object can never blind a cache.
public struct ObjectList<T: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [T]
    public var undecodable: [Undecodable]
    /// Items without even readable metadata: nothing to name them by, so only counted.
    public var garbage: [String]

    public init(metadata: ListMeta, items: [T], undecodable: [Undecodable] = [], garbage: [String] = []) {
        self.metadata = metadata
        self.items = items
        self.undecodable = undecodable
        self.garbage = garbage
    }

    private enum Keys: String, CodingKey { case metadata, items }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        metadata = try c.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = []
        undecodable = []
        garbage = []
        for element in try c.decodeIfPresent([Lenient<T>].self, forKey: .items) ?? [] {
            switch element {
            case .object(let o): items.append(o)
            case .undecodable(let u): undecodable.append(u)
            case .garbage(let g): garbage.append(g)
            }
        }
    }
}
