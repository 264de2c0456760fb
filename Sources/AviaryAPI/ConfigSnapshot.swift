import KubeAPI

/// Configuration tracking (`aviary.dev/config-tracking: "true"` on a Rollout):
/// every ConfigMap and Secret its pod template names is copied to an
/// immutable snapshot `<name>-<hash>`, and the ReplicaSet's template names the
/// snapshot. The names, labels and digests every part agrees on live here.
public enum ConfigTracking {
    /// On a Rollout: "true" turns tracking on. On a ConfigMap or Secret: "false" keeps it out.
    public static let annotation = "aviary.dev/config-tracking"
    /// On every snapshot ("true"): what the plugin lists and what tracking never copies again.
    public static let snapshotLabel = "aviary.dev/config-snapshot"
    /// On a snapshot: the ConfigMap or Secret it copies.
    public static let sourceAnnotation = "aviary.dev/snapshot-of"
    /// On a snapshot: the Rollout it belongs to (snapshots are never shared across Rollouts).
    public static let rolloutAnnotation = "aviary.dev/snapshot-rollout"
    /// On a snapshot: the 64-bit content digest, so a hash collision is seen, never mounted.
    public static let digestAnnotation = "aviary.dev/config-digest"
    /// On a ReplicaSet: its snapshots, "ConfigMap/web-config-b5f7c9d2x4,Secret/db-4fg8…", for `get` and `diff`.
    public static let replicaSetAnnotation = "rollout.aviary.dev/config-snapshots"

    /// True when the Rollout asks for tracking.
    public static func isRequested(by meta: ObjectMeta) -> Bool {
        meta.annotations?[annotation]?.lowercased() == "true"
    }

    /// True when a ConfigMap or Secret opted out.
    public static func isOptedOut(_ meta: ObjectMeta) -> Bool {
        meta.annotations?[annotation]?.lowercased() == "false"
    }

    /// The snapshot's name: the source's name and a hash of the Rollout's name,
    /// the kind, the source's name and its content digest. The Rollout's name
    /// is in the hash so two Rollouts never share a snapshot.
    public static func snapshotName(source: String, kind: ConfigKind, rollout: String, digest: String) -> String {
        let hash = PodTemplateHash.compute(.array([.string(rollout), .string(kind.rawValue), .string(source), .string(digest)]))
        return "\(source)-\(hash)"
    }

    /// The source a snapshot's name copies: the name without its "-<hash>".
    public static func source(ofSnapshot name: String) -> String {
        guard let dash = name.lastIndex(of: "-") else { return name }
        return String(name[..<dash])
    }

    /// The ReplicaSet annotation's value for these snapshots (sorted, so it is stable).
    public static func replicaSetValue(_ snapshots: [ConfigObjectRef]) -> String {
        Set(snapshots).sorted().map(\.description).joined(separator: ",")
    }

    /// The snapshots a ReplicaSet's annotation names; anything malformed is left out.
    public static func snapshots(of rs: ReplicaSet) -> [ConfigObjectRef] {
        guard let value = rs.metadata.annotations?[replicaSetAnnotation] else { return [] }
        return value.split(separator: ",").compactMap { ConfigObjectRef(String($0)) }
    }
}

/// The two kinds of object tracking copies.
public enum ConfigKind: String, Sendable, Hashable, Codable, Comparable, CaseIterable {
    case configMap = "ConfigMap"
    case secret = "Secret"

    public var resource: Resource { self == .configMap ? .configMaps : .secrets }
    public static func < (a: ConfigKind, b: ConfigKind) -> Bool { a.rawValue < b.rawValue }
}

/// "ConfigMap/web-config": a kind and a name in the Rollout's namespace.
public struct ConfigObjectRef: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var kind: ConfigKind
    public var name: String

    public init(_ kind: ConfigKind, _ name: String) {
        self.kind = kind
        self.name = name
    }

    /// Parses "ConfigMap/name"; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let kind = ConfigKind(rawValue: String(parts[0])), !parts[1].isEmpty else { return nil }
        self.init(kind, String(parts[1]))
    }

    public var description: String { "\(kind.rawValue)/\(name)" }
    public static func < (a: ConfigObjectRef, b: ConfigObjectRef) -> Bool { (a.kind, a.name) < (b.kind, b.name) }
}

/// A content digest (FNV-1a, 64 bit) over what a pod sees of a ConfigMap or
/// Secret: each section's keys in order, with their values. The cache and the
/// executor (which copies the object it reads) compute it the same way, so a
/// snapshot is only ever made from the content the plan was made from.
public enum ConfigDigest {
    public static func of(kind: ConfigKind, type: String?, sections: [(String, [String: String])]) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        func mix(_ s: String) {
            for b in s.utf8 {
                hash ^= UInt64(b)
                hash = hash &* 1_099_511_628_211
            }
            // A separator no key or value contains as a whole: lengths are implied by it.
            hash ^= 0xFF
            hash = hash &* 1_099_511_628_211
        }
        mix(kind.rawValue)
        mix(type ?? "")
        for (section, values) in sections.sorted(by: { $0.0 < $1.0 }) {
            mix(section)
            for key in values.keys.sorted() {
                mix(key)
                mix(values[key] ?? "")
            }
        }
        return String(hash, radix: 16)
    }

    /// The digest of an object as the API returns it (a ConfigMap's `data` and
    /// `binaryData`, a Secret's `type` and `data`).
    public static func of(kind: ConfigKind, object: JSONValue) -> String {
        func strings(_ v: JSONValue?) -> [String: String] {
            guard case .object(let o)? = v else { return [:] }
            return o.compactMapValues(\.stringValue)
        }
        switch kind {
        case .configMap:
            return of(kind: kind, type: nil, sections: [("data", strings(object["data"])), ("binaryData", strings(object["binaryData"]))])
        case .secret:
            return of(kind: kind, type: object["type"]?.stringValue, sections: [("data", strings(object["data"]))])
        }
    }
}

/// What a reconcile knows of one ConfigMap or Secret: never its values, only
/// its digest and the metadata tracking reads.
public struct ConfigSource: Sendable, Hashable {
    public var ref: ConfigObjectRef
    public var uid: String?
    public var digest: String
    public var optedOut: Bool
    public var creationTimestamp: KubeTime?
    /// For a snapshot: the source it copies and the Rollout it belongs to.
    public var snapshotOf: String?
    public var snapshotRollout: String?
    public var snapshotDigest: String?
    public var ownerReferences: [OwnerReference]
    public var isSnapshot: Bool { snapshotOf != nil }

    public init(ref: ConfigObjectRef, uid: String? = nil, digest: String, optedOut: Bool = false,
                creationTimestamp: KubeTime? = nil, snapshotOf: String? = nil, snapshotRollout: String? = nil,
                snapshotDigest: String? = nil, ownerReferences: [OwnerReference] = []) {
        self.ref = ref
        self.uid = uid
        self.digest = digest
        self.optedOut = optedOut
        self.creationTimestamp = creationTimestamp
        self.snapshotOf = snapshotOf
        self.snapshotRollout = snapshotRollout
        self.snapshotDigest = snapshotDigest
        self.ownerReferences = ownerReferences
    }
}

/// The kind an informer's objects are (a list's items carry no `kind`).
public protocol ConfigKindTag: Sendable { static var kind: ConfigKind { get } }
public enum ConfigMapKind: ConfigKindTag { public static let kind = ConfigKind.configMap }
public enum SecretKind: ConfigKindTag { public static let kind = ConfigKind.secret }

/// A ConfigMap or Secret as the controller's cache keeps it: metadata (with
/// only Aviary's annotations) and a digest of the content. The values are read
/// to hash them and dropped, so a cache of every Secret in the cluster holds
/// no secret and little memory.
public struct ConfigObject<Kind: ConfigKindTag>: KubeObject {
    public var metadata: ObjectMeta
    public var digest: String

    enum CodingKeys: String, CodingKey { case metadata, data, binaryData, type, digest }

    public init(metadata: ObjectMeta, digest: String) {
        self.metadata = metadata
        self.digest = digest
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        var meta = try c.decode(ObjectMeta.self, forKey: .metadata)
        // Only ours: a last-applied-configuration annotation would hold the whole content again.
        meta.annotations = meta.annotations?.filter { $0.key.hasPrefix("aviary.dev/") }
        if meta.annotations?.isEmpty == true { meta.annotations = nil }
        metadata = meta
        if let d = try c.decodeIfPresent(String.self, forKey: .digest) {
            // Our own encoding (a cache written back): already digested.
            digest = d
            return
        }
        let data = try c.decodeIfPresent([String: String].self, forKey: .data) ?? [:]
        let binary = try c.decodeIfPresent([String: String].self, forKey: .binaryData) ?? [:]
        switch Kind.kind {
        case .configMap:
            digest = ConfigDigest.of(kind: .configMap, type: nil, sections: [("data", data), ("binaryData", binary)])
        case .secret:
            digest = ConfigDigest.of(kind: .secret, type: try c.decodeIfPresent(String.self, forKey: .type), sections: [("data", data)])
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(digest, forKey: .digest)
    }

    /// The planner's view of it.
    public var source: ConfigSource {
        let a = metadata.annotations ?? [:]
        let isSnapshot = metadata.labels?[ConfigTracking.snapshotLabel] == "true"
        return ConfigSource(ref: ConfigObjectRef(Kind.kind, metadata.name ?? ""), uid: metadata.uid, digest: digest,
                            optedOut: ConfigTracking.isOptedOut(metadata), creationTimestamp: metadata.creationTimestamp,
                            snapshotOf: isSnapshot ? a[ConfigTracking.sourceAnnotation] ?? "" : nil,
                            snapshotRollout: isSnapshot ? a[ConfigTracking.rolloutAnnotation] : nil,
                            snapshotDigest: isSnapshot ? a[ConfigTracking.digestAnnotation] : nil,
                            ownerReferences: metadata.ownerReferences ?? [])
    }
}
