import Foundation
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

    /// Argo's `name.<namespace>` for Istio objects: the name, in another namespace when it says so.
    public static func istio(_ kind: RouteKind, _ written: String, rolloutNamespace: String) -> RouteRef {
        let parts = written.split(separator: ".", maxSplits: 1).map(String.init)
        if parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty { return RouteRef(kind, namespace: parts[1], name: parts[0]) }
        return RouteRef(kind, namespace: rolloutNamespace, name: written)
    }

    /// Every route object a Rollout's traffic routing names (what the
    /// controller must watch and hand the planner in `RolloutView.routes`).
    public static func named(by rollout: Rollout) -> [RouteRef] {
        guard let routing = rollout.spec.strategy?.canary?.trafficRouting else { return [] }
        let ns = rollout.metadata.namespace ?? ""
        var refs: [RouteRef] = []
        if let istio = routing.istio {
            refs += istio.allVirtualServices.map { RouteRef.istio(.virtualService, $0.name, rolloutNamespace: ns) }
            if let rule = istio.destinationRule { refs.append(RouteRef.istio(.destinationRule, rule.name, rolloutNamespace: ns)) }
        }
        if let gateway = try? routing.gateway {
            refs += gateway.allHTTPRoutes.map { RouteRef(.httpRoute, namespace: gateway.namespace ?? ns, name: $0.name) }
        }
        return refs
    }
}

/// A route object in another namespace is written only when that namespace
/// allows it: an annotation on the object naming the Rollout's namespace. A
/// namespace user must not be able to make the controller (which may patch
/// routes everywhere) edit another team's routes by naming them.
public let allowRolloutsFromAnnotation = "aviary.dev/allow-rollouts-from"

extension RouteRef {
    /// nil when this Rollout may write the object; else what is missing, for an InvalidSpec.
    public func grantProblem(_ object: JSONValue, rolloutNamespace: String) -> String? {
        guard namespace != rolloutNamespace else { return nil }
        let allowed = (object["metadata"]?["annotations"]?[allowRolloutsFromAnnotation]?.stringValue ?? "")
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if allowed.contains(rolloutNamespace) { return nil }
        return "\(kind.rawValue) \"\(name)\" is in namespace \(namespace), which does not allow Rollouts from \(rolloutNamespace); "
            + "its owners can add the annotation \(allowRolloutsFromAnnotation): \"\(rolloutNamespace)\" to it"
    }
}

/// The router's checks of the objects a Rollout names, for `aviary lint`:
/// the same messages the controller puts in an InvalidSpec.
public enum RouteCheck {
    public static func problems(_ rollout: Rollout, routes: [RouteRef: JSONValue]) -> [String] {
        guard let canary = rollout.spec.strategy?.canary, canary.trafficRouting != nil else { return [] }
        let planner = CanaryPlanner(strategy: canary, replicas: rollout.spec.effectiveReplicas, namespace: rollout.metadata.namespace ?? "")
        return planner.problems(RolloutView(rollout: rollout, replicaSets: [], services: [:], routes: routes, now: KubeTime(secondsSinceEpoch: 0)))
    }
}
