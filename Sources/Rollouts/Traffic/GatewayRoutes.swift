import AviaryAPI
import KubeAPI

/// Gateway API: in every rule of the named HTTPRoutes that has a backendRef
/// for both canaryService and stableService, the canary's backendRef gets
/// the weight and stable's the rest. Header and mirror routes are rules the
/// controller adds at the top: a header route per weighted rule, with the
/// header matches merged in and the canary as the only backend; a mirror
/// route as a copy of each weighted rule with a RequestMirror filter. Rules
/// have no names in the standard channel (GEP-995), so each added rule
/// carries a RequestHeaderModifier that sets `X-Aviary-Route: <name>` on the
/// requests it sends: that is how the controller knows its own rules again,
/// through any defaults the API server fills in. Nothing else is touched.
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

    /// The header a managed rule sets, naming its route.
    static let markerHeader = "X-Aviary-Route"

    /// The managed route a rule belongs to, from its marker filter.
    static func managedName(_ rule: JSONValue) -> String? {
        for filter in rule["filters"]?.arrayValue ?? [] where filter["type"]?.stringValue == "RequestHeaderModifier" {
            for key in ["set", "add"] {
                for header in filter["requestHeaderModifier"]?[key]?.arrayValue ?? []
                    where header["name"]?.stringValue?.lowercased() == markerHeader.lowercased() {
                    return header["value"]?.stringValue
                }
            }
        }
        return nil
    }

    static func marker(_ name: String) -> JSONValue {
        ["type": "RequestHeaderModifier", "requestHeaderModifier": ["set": [["name": .string(markerHeader), "value": .string(name)]]]]
    }

    /// An Istio-style string match as a Gateway API header match (a prefix becomes a regular expression).
    static func headerMatch(_ name: String, _ m: StringMatch) -> JSONValue {
        if let e = m.exact { return ["type": "Exact", "name": .string(name), "value": .string(e)] }
        if let p = m.prefix { return ["type": "RegularExpression", "name": .string(name), "value": .string(Self.escaped(p) + ".*")] }
        return ["type": "RegularExpression", "name": .string(name), "value": .string(m.regex ?? "")]
    }

    static func escaped(_ literal: String) -> String {
        var out = ""
        for ch in literal {
            if "\\.^$|?*+()[]{}".contains(ch) { out.append("\\") }
            out.append(ch)
        }
        return out
    }

    /// The rules the target wants added, by route name, in managedRoutes order; each with the
    /// (name, value) pairs that tell it apart, for comparing with what the object holds.
    func managedRules(_ target: TrafficTarget, weighted: [JSONValue], weight: Int) -> [JSONValue] {
        let order = target.headerRoutes.map(\.name) + target.mirrorRoutes.map(\.name)
        var byName: [String: [JSONValue]] = [:]
        for header in target.headerRoutes {
            let extra = (header.match ?? []).map { Self.headerMatch($0.headerName, $0.headerValue) }
            byName[header.name] = weighted.compactMap { rule in
                guard let canary = (rule["backendRefs"]?.arrayValue ?? []).first(where: { $0["name"]?.stringValue == canaryService }) else { return nil }
                let matches = (rule["matches"]?.arrayValue).flatMap { $0.isEmpty ? nil : $0 } ?? [[:]]
                // Each header matcher its own match entry: they are OR-ed, as in Istio.
                let merged: [JSONValue] = matches.flatMap { m in
                    extra.map { h in m.setting(["headers"], to: .array((m["headers"]?.arrayValue ?? []) + [h])) }
                }
                var backend = canary
                if case .object(var o) = backend { o["weight"] = nil; backend = .object(o) }
                return ["matches": .array(merged), "backendRefs": [backend], "filters": [Self.marker(header.name)]]
            }
        }
        for mirror in target.mirrorRoutes {
            byName[mirror.name] = weighted.compactMap { rule in
                guard let canary = (rule["backendRefs"]?.arrayValue ?? []).first(where: { $0["name"]?.stringValue == canaryService }) else { return nil }
                var mirrorRef: [String: JSONValue] = ["name": canary["name"] ?? .null]
                if let port = canary["port"] { mirrorRef["port"] = port }
                var requestMirror: [String: JSONValue] = ["backendRef": .object(mirrorRef)]
                if let p = mirror.percentage, p < 100 { requestMirror["percent"] = .number(Double(p)) }
                let matches: [JSONValue] = (mirror.match ?? []).map { m in
                    var o: [String: JSONValue] = [:]
                    if let method = m.method?.exact { o["method"] = .string(method) }
                    if let path = m.path {
                        o["path"] = path.exact.map { ["type": "Exact", "value": .string($0)] }
                            ?? path.prefix.map { ["type": "PathPrefix", "value": .string($0)] }
                            ?? ["type": "RegularExpression", "value": .string(path.regex ?? "")]
                    }
                    if let headers = m.headers { o["headers"] = .array(headers.sorted { $0.key < $1.key }.map { Self.headerMatch($0.key, $0.value) }) }
                    return .object(o)
                }
                let filters = (rule["filters"]?.arrayValue ?? []) + [["type": "RequestMirror", "requestMirror": .object(requestMirror)], Self.marker(mirror.name)]
                var copy = rule.setting(["filters"], to: .array(filters))
                if !matches.isEmpty { copy = copy.setting(["matches"], to: .array(matches)) }
                return copy
            }
        }
        return order.flatMap { byName[$0] ?? [] }
    }

    /// What tells two managed rules apart: the route they belong to and their header matches.
    static func identity(_ rule: JSONValue) -> [String] {
        let headers = (rule["matches"]?.arrayValue ?? []).flatMap { $0["headers"]?.arrayValue ?? [] }
            .map { "\($0["name"]?.stringValue ?? "")=\($0["value"]?.stringValue ?? "")" }
        return [managedName(rule) ?? ""] + headers
    }

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
              let first = weightedRules(object).first(where: { Self.managedName(object["spec"]?["rules"]?.item($0.rule) ?? .null) == nil }),
              let refs = object["spec"]?["rules"]?.item(first.rule)?["backendRefs"] else { return nil }
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
            var working = object
            func apply(_ op: JSONPatchOperation) {
                guard let next = try? working.applying([op]) else { return }
                working = next
                ops.append(op)
            }
            // The managed rules first: rebuilt when they are not the ones wanted.
            let rules = object["spec"]?["rules"]?.arrayValue ?? []
            let weighted = weightedRules(object).compactMap { rules.indices.contains($0.rule) ? rules[$0.rule] : nil }
                .filter { Self.managedName($0) == nil }
            let wanted = managedRules(target, weighted: weighted, weight: weight)
            let present = rules.filter { Self.managedName($0) != nil }
            if present.map(Self.identity) != wanted.map(Self.identity) {
                for i in rules.indices.reversed() where Self.managedName(rules[i]) != nil { apply(.remove("/spec/rules/\(i)")) }
                for (k, rule) in wanted.enumerated() { apply(.add("/spec/rules/\(k)", rule)) }
            }
            for (i, c, s) in weightedRules(working) {
                let refs = working["spec"]?["rules"]?.item(i)?["backendRefs"]
                for (j, want) in [(c, weight), (s, maxWeight - weight)] {
                    let current = refs?.item(j)?["weight"]
                    guard current?.intValue != want else { continue }
                    let path = "/spec/rules/\(i)/backendRefs/\(j)/weight"
                    apply(current == nil ? .add(path, .number(Double(want))) : .replace(path, .number(Double(want))))
                }
            }
            return ops.isEmpty ? nil : (ref(route), patch(object, ops))
        }
    }
}

extension RouteRef {
    /// The managed route an HTTPRoute rule belongs to (its `X-Aviary-Route` marker), for `get` and tests.
    public static func managedRouteName(ofGatewayRule rule: JSONValue) -> String? { GatewayRoutes.managedName(rule) }
}
