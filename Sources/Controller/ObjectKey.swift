import KubeAPI

/// Which object: its namespace (nil for a cluster-scoped one) and name. The
/// key of every cache and work queue, so no call site builds "ns/name" text.
public struct ObjectKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String?
    public var name: String

    public init(namespace: String?, name: String) {
        self.namespace = namespace
        self.name = name
    }

    public init(_ meta: ObjectMeta) {
        self.init(namespace: meta.namespace, name: meta.name ?? "")
    }

    /// What logs say: `ns/name`, or the name alone for a cluster-scoped object.
    public var description: String { namespace.map { "\($0)/\(name)" } ?? name }

    public static func < (a: ObjectKey, b: ObjectKey) -> Bool {
        (a.namespace ?? "", a.name) < (b.namespace ?? "", b.name)
    }
}
