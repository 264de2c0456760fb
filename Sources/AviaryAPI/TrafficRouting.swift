import KubeAPI

/// `strategy.canary.trafficRouting`: a mesh or gateway moves the canary's
/// share of traffic, instead of pod counts. Field names are Argo's, so an
/// Argo manifest keeps working; Argo's Gateway API plugin configuration is
/// read as a built-in router.
public struct CanaryTrafficRouting: Codable, Sendable, Hashable {
    public var istio: IstioTrafficRouting?
    /// Aviary's own spelling of the Gateway API router.
    public var gatewayAPI: GatewayAPITrafficRouting?
    /// Argo's plugin map; `argoproj-labs/gatewayAPI` is built in, anything else is refused by name.
    public var plugins: [String: JSONValue]?
    /// Routes steps add (setHeaderRoute, setMirrorRoute), in the order they are kept at the top.
    public var managedRoutes: [ManagedRoute]?
    /// The weight that means "all traffic" (default 100).
    public var maxTrafficWeight: Int?
    /// Router keys Aviary does not implement (nginx, alb, smi, …), for validation to name.
    public var unsupported: [String] = []

    public static let gatewayAPIPlugin = "argoproj-labs/gatewayAPI"
    public static let defaultMaxTrafficWeight = 100

    public init(istio: IstioTrafficRouting? = nil, gatewayAPI: GatewayAPITrafficRouting? = nil) {
        self.istio = istio
        self.gatewayAPI = gatewayAPI
    }

    private enum Keys: String, CodingKey, CaseIterable { case istio, gatewayAPI, plugins, managedRoutes, maxTrafficWeight }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        istio = try c.decodeIfPresent(IstioTrafficRouting.self, forKey: .istio)
        gatewayAPI = try c.decodeIfPresent(GatewayAPITrafficRouting.self, forKey: .gatewayAPI)
        plugins = try c.decodeIfPresent([String: JSONValue].self, forKey: .plugins)
        managedRoutes = try c.decodeIfPresent([ManagedRoute].self, forKey: .managedRoutes)
        maxTrafficWeight = try c.decodeIfPresent(Int.self, forKey: .maxTrafficWeight)
        let known = Set(Keys.allCases.map(\.rawValue))
        unsupported = try decoder.container(keyedBy: AnyCodingKey.self).allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encodeIfPresent(istio, forKey: .istio)
        try c.encodeIfPresent(gatewayAPI, forKey: .gatewayAPI)
        try c.encodeIfPresent(plugins, forKey: .plugins)
        try c.encodeIfPresent(managedRoutes, forKey: .managedRoutes)
        try c.encodeIfPresent(maxTrafficWeight, forKey: .maxTrafficWeight)
    }

    /// The Gateway API configuration, from either spelling.
    public var gateway: GatewayAPITrafficRouting? {
        get throws {
            if let gatewayAPI { return gatewayAPI }
            guard let raw = plugins?[Self.gatewayAPIPlugin] else { return nil }
            return try raw.decode(as: GatewayAPITrafficRouting.self)
        }
    }
}

public struct ManagedRoute: Codable, Sendable, Hashable {
    public var name: String
    public init(name: String) { self.name = name }
}

/// `trafficRouting.istio`.
public struct IstioTrafficRouting: Codable, Sendable, Hashable {
    public var virtualService: IstioVirtualService?
    public var virtualServices: [IstioVirtualService]?
    /// Subset-level routing: the subsets' labels carry the hashes.
    public var destinationRule: IstioDestinationRule?

    public init(virtualService: IstioVirtualService? = nil, virtualServices: [IstioVirtualService]? = nil,
                destinationRule: IstioDestinationRule? = nil) {
        self.virtualService = virtualService
        self.virtualServices = virtualServices
        self.destinationRule = destinationRule
    }

    /// The VirtualServices named, whichever way.
    public var allVirtualServices: [IstioVirtualService] { (virtualService.map { [$0] } ?? []) + (virtualServices ?? []) }
}

public struct IstioVirtualService: Codable, Sendable, Hashable {
    public var name: String
    /// HTTP route names; may be omitted when the VirtualService has exactly one HTTP route.
    public var routes: [String]?
    public var tlsRoutes: [IstioTLSRoute]?
    public var tcpRoutes: [IstioTCPRoute]?

    public init(name: String, routes: [String]? = nil) {
        self.name = name
        self.routes = routes
    }
}

public struct IstioTLSRoute: Codable, Sendable, Hashable {
    public var port: Int?
    public var sniHosts: [String]?
}

public struct IstioTCPRoute: Codable, Sendable, Hashable {
    public var port: Int?
}

public struct IstioDestinationRule: Codable, Sendable, Hashable {
    public var name: String
    public var canarySubsetName: String
    public var stableSubsetName: String

    public init(name: String, canarySubsetName: String, stableSubsetName: String) {
        self.name = name
        self.canarySubsetName = canarySubsetName
        self.stableSubsetName = stableSubsetName
    }
}

/// `trafficRouting.plugins."argoproj-labs/gatewayAPI"` (or `trafficRouting.gatewayAPI`).
public struct GatewayAPITrafficRouting: Codable, Sendable, Hashable {
    public var httpRoute: String?
    public var httpRoutes: [GatewayHTTPRoute]?
    public var grpcRoute: String?
    /// Where the routes are (default: the Rollout's namespace).
    public var namespace: String?

    public init(httpRoute: String? = nil, httpRoutes: [GatewayHTTPRoute]? = nil, namespace: String? = nil) {
        self.httpRoute = httpRoute
        self.httpRoutes = httpRoutes
        self.namespace = namespace
    }

    /// Every HTTPRoute named, whichever way.
    public var allHTTPRoutes: [GatewayHTTPRoute] {
        (httpRoute.map { [GatewayHTTPRoute(name: $0)] } ?? []) + (httpRoutes ?? [])
    }
}

public struct GatewayHTTPRoute: Codable, Sendable, Hashable {
    public var name: String
    public var useHeaderRoutes: Bool?
    public init(name: String, useHeaderRoutes: Bool? = nil) {
        self.name = name
        self.useHeaderRoutes = useHeaderRoutes
    }
}

// MARK: steps that add routes

/// `setHeaderRoute`: requests matching any of `match` go to the canary; `name` alone removes the route.
public struct SetHeaderRoute: Codable, Sendable, Hashable {
    public var name: String
    public var match: [HeaderRoutingMatch]?

    public init(name: String, match: [HeaderRoutingMatch]? = nil) {
        self.name = name
        self.match = match
    }
}

public struct HeaderRoutingMatch: Codable, Sendable, Hashable {
    public var headerName: String
    public var headerValue: StringMatch

    public init(headerName: String, headerValue: StringMatch) {
        self.headerName = headerName
        self.headerValue = headerValue
    }
}

/// Exactly one of exact, prefix or regex.
public struct StringMatch: Codable, Sendable, Hashable {
    public var exact: String?
    public var prefix: String?
    public var regex: String?

    /// What is wrong with it, if anything.
    public var problem: String? {
        let set = [exact, prefix, regex].compactMap { $0 }.count
        return set == 1 ? nil : "set exactly one of exact, prefix or regex"
    }

    public init(exact: String? = nil, prefix: String? = nil, regex: String? = nil) {
        self.exact = exact
        self.prefix = prefix
        self.regex = regex
    }
}

/// `setMirrorRoute`: a copy of matching requests goes to the canary; `name` alone removes it.
public struct SetMirrorRoute: Codable, Sendable, Hashable {
    public var name: String
    public var percentage: Int?
    public var match: [RouteMatch]?

    public init(name: String, percentage: Int? = nil, match: [RouteMatch]? = nil) {
        self.name = name
        self.percentage = percentage
        self.match = match
    }
}

public struct RouteMatch: Codable, Sendable, Hashable {
    public var method: StringMatch?
    public var path: StringMatch?
    public var headers: [String: StringMatch]?

    public init(method: StringMatch? = nil, path: StringMatch? = nil, headers: [String: StringMatch]? = nil) {
        self.method = method
        self.path = path
        self.headers = headers
    }
}

// MARK: gradual rollback (an Aviary extension)

/// `strategy.canary.abortStrategy`: `immediate` (the default, as in Argo),
/// or `{gradual: {…}}`, which moves traffic back to stable through weights,
/// each held for an interval and until stable has the pods for it.
public enum AbortStrategy: Codable, Sendable, Hashable {
    case immediate
    case gradual(GradualAbort)

    private enum Keys: String, CodingKey { case gradual, immediate }

    public init(from decoder: Decoder) throws {
        if let word = try? decoder.singleValueContainer().decode(String.self) {
            guard word == "immediate" else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "expected \"immediate\" or {gradual: …}, found \"\(word)\""))
            }
            self = .immediate
            return
        }
        let c = try decoder.container(keyedBy: Keys.self)
        if let gradual = try c.decodeIfPresent(GradualAbort.self, forKey: .gradual) {
            self = .gradual(gradual)
        } else {
            self = .immediate
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .immediate:
            var c = encoder.singleValueContainer()
            try c.encode("immediate")
        case .gradual(let g):
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(g, forKey: .gradual)
        }
    }
}

public struct GradualAbort: Codable, Sendable, Hashable {
    /// The canary weights to pass through on the way back, ending at 0.
    public var steps: [Int]?
    /// Or: lower the canary's weight by this much each interval.
    public var stepWeight: Int?
    public var interval: String?

    public init(steps: [Int]? = nil, stepWeight: Int? = nil, interval: String? = nil) {
        self.steps = steps
        self.stepWeight = stepWeight
        self.interval = interval
    }
}
