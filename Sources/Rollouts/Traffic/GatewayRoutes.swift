import AviaryAPI
import KubeAPI

/// Gateway API: in every rule of the named HTTPRoutes that has a backendRef
/// for both canaryService and stableService, the canary's backendRef gets
/// the weight and stable's the rest. Nothing else in the route is touched.
struct GatewayRoutes: RouteWriter {
    let gateway: GatewayAPITrafficRouting
    let canaryService: String?
    let stableService: String?
    let maxWeight: Int
    /// The Rollout's namespace: the only one routes are written in.
    let namespace: String
    /// Where the configuration was written, for messages.
    let at: String

    var summary: String { "Gateway API HTTPRoute " + gateway.allHTTPRoutes.map(\.name).joined(separator: ", ") }

    func ref(_ route: GatewayHTTPRoute) -> RouteRef { RouteRef(.httpRoute, namespace: gateway.namespace ?? namespace, name: route.name) }

    /// The rules carrying both sides, with the indices of the two backendRefs.
    func weightedRules(_ object: JSONValue) -> [(rule: Int, canary: Int, stable: Int)] {
        (object["spec"]?["rules"]?.arrayValue ?? []).enumerated().compactMap { i, rule in
            let refs = rule["backendRefs"]?.arrayValue ?? []
            guard let c = refs.firstIndex(where: { $0["name"]?.stringValue == canaryService }),
                  let s = refs.firstIndex(where: { $0["name"]?.stringValue == stableService }) else { return nil }
            return (i, c, s)
        }
    }

    func problems(_ view: RolloutView) -> [String] {
        var out: [String] = []
        if canaryService == nil || stableService == nil {
            out.append("\(at): the Gateway API router needs spec.strategy.canary.canaryService and stableService")
        }
        if gateway.allHTTPRoutes.isEmpty { out.append("\(at).httpRoute: required") }
        if gateway.grpcRoute != nil { out.append("\(at).grpcRoute: not supported by aviary yet; use httpRoute") }
        for route in gateway.allHTTPRoutes {
            guard let object = view.routes[ref(route)] else {
                out.append("\(at).httpRoute: HTTPRoute \"\(route.name)\" not found in namespace \(gateway.namespace ?? namespace)")
                continue
            }
            if let grant = ref(route).grantProblem(object, rolloutNamespace: namespace) {
                out.append("\(at).namespace: \(grant)")
                continue
            }
            if weightedRules(object).isEmpty {
                out.append("\(at).httpRoute: HTTPRoute \"\(route.name)\" has no rule with backendRefs \(canaryService ?? "") and \(stableService ?? "")")
            }
        }
        return out
    }

    func heldWeight(_ view: RolloutView) -> Int? {
        guard let route = gateway.allHTTPRoutes.first, let object = view.routes[ref(route)],
              let first = weightedRules(object).first, let refs = object["spec"]?["rules"]?.item(first.rule)?["backendRefs"] else { return nil }
        // Weights are proportional and default to 1.
        let canary = refs.item(first.canary)?["weight"]?.intValue ?? 1
        let stable = refs.item(first.stable)?["weight"]?.intValue ?? 1
        guard canary + stable > 0 else { return 0 }
        return Int((Double(canary) * Double(maxWeight) / Double(canary + stable)).rounded())
    }

    func patches(weight: Int, target: TrafficTarget, hashes: RouteHashes, _ view: RolloutView) -> [(RouteRef, [JSONPatchOperation])] {
        gateway.allHTTPRoutes.compactMap { route in
            guard let object = view.routes[ref(route)], ref(route).grantProblem(object, rolloutNamespace: namespace) == nil else { return nil }
            var ops: [JSONPatchOperation] = []
            for (i, c, s) in weightedRules(object) {
                let refs = object["spec"]?["rules"]?.item(i)?["backendRefs"]
                for (j, want) in [(c, weight), (s, maxWeight - weight)] {
                    let current = refs?.item(j)?["weight"]
                    guard current?.intValue != want else { continue }
                    let path = "/spec/rules/\(i)/backendRefs/\(j)/weight"
                    ops.append(current == nil ? .add(path, .number(Double(want))) : .replace(path, .number(Double(want))))
                }
            }
            return ops.isEmpty ? nil : (ref(route), patch(object, ops))
        }
    }
}
