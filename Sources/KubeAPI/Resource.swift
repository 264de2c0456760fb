import Foundation

/// Where a kind of object lives in the REST API.
public struct Resource: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var plural: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.plural = plural
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// `/api/v1/namespaces/ns/pods/name/status`; `namespace` nil lists across all namespaces.
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var p = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { p += "/namespaces/\(PathEscape.segment(namespace))" }
        p += "/\(plural)"
        if let name { p += "/\(PathEscape.segment(name))" }
        if let subresource { p += "/\(subresource)" }
        return p
    }

    public static let configMaps = Resource(group: "", version: "v1", plural: "configmaps", namespaced: true)
    public static let pods = Resource(group: "", version: "v1", plural: "pods", namespaced: true)
    public static let services = Resource(group: "", version: "v1", plural: "services", namespaced: true)
    public static let secrets = Resource(group: "", version: "v1", plural: "secrets", namespaced: true)
    public static let events = Resource(group: "", version: "v1", plural: "events", namespaced: true)
    public static let namespaces = Resource(group: "", version: "v1", plural: "namespaces", namespaced: false)
    public static let serviceAccounts = Resource(group: "", version: "v1", plural: "serviceaccounts", namespaced: true)
    public static let replicaSets = Resource(group: "apps", version: "v1", plural: "replicasets", namespaced: true)
    public static let leases = Resource(group: "coordination.k8s.io", version: "v1", plural: "leases", namespaced: true)
    public static let roles = Resource(group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", namespaced: true)
    public static let roleBindings = Resource(group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", namespaced: true)
    /// Istio's routing objects (v1beta1: served by every Istio since 1.8, beside v1 from 1.22).
    public static let virtualServices = Resource(group: "networking.istio.io", version: "v1beta1", plural: "virtualservices", namespaced: true)
    public static let destinationRules = Resource(group: "networking.istio.io", version: "v1beta1", plural: "destinationrules", namespaced: true)
    /// Gateway API's HTTPRoute (GA, v1, since Gateway API v1.0).
    public static let httpRoutes = Resource(group: "gateway.networking.k8s.io", version: "v1", plural: "httproutes", namespaced: true)
}

package enum PathEscape {
    /// Names are DNS labels in practice; escape anything else rather than trust it.
    package static func segment(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }

    package static func query(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: queryAllowed) ?? s
    }

    private static let allowed: CharacterSet = {
        var c = CharacterSet.alphanumerics
        c.insert(charactersIn: "-._~:@")
        return c
    }()

    private static let queryAllowed: CharacterSet = {
        var c = CharacterSet.alphanumerics
        c.insert(charactersIn: "-._~")
        return c
    }()
}
