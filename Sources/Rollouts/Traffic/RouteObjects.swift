import AviaryAPI
import KubeAPI

/// The kinds of object a traffic router writes.
public enum RouteKind: String, Sendable, Hashable, CaseIterable {
    case virtualService = "VirtualService"
    case destinationRule = "DestinationRule"
    case httpRoute = "HTTPRoute"

    public var resource: Resource {
        switch self {
        case .virtualService: .virtualServices
        case .destinationRule: .destinationRules
        case .httpRoute: .httpRoutes
        }
    }
}

/// One route object a Rollout names.
public struct RouteRef: Sendable, Hashable, CustomStringConvertible {
    public var kind: RouteKind
    public var namespace: String
    public var name: String

    public init(_ kind: RouteKind, namespace: String, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    public var description: String { "\(kind.rawValue) \(namespace)/\(name)" }

    /// Every route object a Rollout's traffic routing names (what the
    /// controller must watch and hand the planner in `RolloutView.routes`).
    public static func named(by rollout: Rollout) -> [RouteRef] {
        guard let routing = rollout.spec.strategy?.canary?.trafficRouting else { return [] }
        let ns = rollout.metadata.namespace ?? ""
        var refs: [RouteRef] = []
        if let istio = routing.istio {
            refs += istio.allVirtualServices.map { RouteRef(.virtualService, namespace: ns, name: $0.name) }
            if let rule = istio.destinationRule { refs.append(RouteRef(.destinationRule, namespace: ns, name: rule.name)) }
        }
        if let gateway = try? routing.gateway {
            refs += gateway.allHTTPRoutes.map { RouteRef(.httpRoute, namespace: gateway.namespace ?? ns, name: $0.name) }
        }
        return refs
    }
}
