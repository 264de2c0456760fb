import Kube
import Rollouts

/// A route object (VirtualService, DestinationRule, HTTPRoute) as the API
/// server returned it. The routers read and patch fields Aviary does not
/// model, so the cache keeps the whole object; only the metadata is typed,
/// for the cache's keys and versions.
public struct RouteObject: KubeObject, Hashable {
    public var metadata: ObjectMeta
    /// The whole object, metadata included.
    public var object: JSONValue

    public init(object: JSONValue) throws {
        self.object = object
        metadata = try (object["metadata"] ?? .null).decode(as: ObjectMeta.self)
    }

    private enum Keys: String, CodingKey { case metadata }

    /// Decoded twice from the same bytes: once whole, once for the metadata.
    public init(from decoder: Decoder) throws {
        metadata = try decoder.container(keyedBy: Keys.self).decode(ObjectMeta.self, forKey: .metadata)
        object = try JSONValue(from: decoder)
    }

    public func encode(to encoder: Encoder) throws { try object.encode(to: encoder) }
}
