import AviaryAPI
import KubeAPI

/// Istio: the weights of the named HTTP (and TLS, TCP) routes'
/// destinations in each VirtualService; the managed header and mirror routes
/// at the top of `spec.http`; for subset-level routing, the DestinationRule
/// subsets' hash labels. Nothing else in the objects is touched.
struct IstioRoutes: RouteWriter {
    let istio: IstioTrafficRouting
    let canaryService: String?
    let stableService: String?
    /// managedRoutes, in the order they are kept at the top.
    let managedOrder: [String]
    let maxWeight: Int
    let namespace: String

    static let at = "spec.strategy.canary.trafficRouting.istio"

    var summary: String {
        let names = istio.allVirtualServices.map(\.name).joined(separator: ", ")
        return "Istio VirtualService \(names)" + (istio.destinationRule.map { " (subsets of DestinationRule \($0.name))" } ?? "")
    }

    func ref(_ vs: IstioVirtualService) -> RouteRef { RouteRef.istio(.virtualService, vs.name, rolloutNamespace: namespace) }
    func ref(_ rule: IstioDestinationRule) -> RouteRef { RouteRef.istio(.destinationRule, rule.name, rolloutNamespace: namespace) }

    // MARK: which destination is which

    /// The host's Service name: "web-canary", "web-canary.shop", "web-canary.shop.svc.cluster.local" all name web-canary.
    static func serviceName(_ host: String?) -> String? {
        host.map { String($0.split(separator: ".", maxSplits: 1).first ?? "") }
    }

    func isCanary(_ destination: JSONValue?) -> Bool {
        if let rule = istio.destinationRule { return destination?["subset"]?.stringValue == rule.canarySubsetName }
        return canaryService != nil && Self.serviceName(destination?["host"]?.stringValue) == canaryService
    }

    func isStable(_ destination: JSONValue?) -> Bool {
        if let rule = istio.destinationRule { return destination?["subset"]?.stringValue == rule.stableSubsetName }
        return stableService != nil && Self.serviceName(destination?["host"]?.stringValue) == stableService
    }

    /// The indices in `spec.http` of the routes a VirtualService entry names (managed routes aside).
    func httpIndices(_ vs: IstioVirtualService, _ object: JSONValue) -> [Int]? {
        let http = object["spec"]?["http"]?.arrayValue ?? []
        let managed = Set(managedOrder)
        guard let names = vs.routes else {
            let own = http.indices.filter { !managed.contains(http[$0]["name"]?.stringValue ?? "") }
            return own.count == 1 ? own : nil
        }
        var out: [Int] = []
        for name in names {
            guard let i = http.firstIndex(where: { $0["name"]?.stringValue == name }) else { return nil }
            out.append(i)
        }
        return out
    }

    // MARK: problems

    func problems(_ view: RolloutView) -> [String] {
        var out: [String] = []
        let vss = istio.allVirtualServices
        if istio.virtualService != nil, istio.virtualServices != nil {
            out.append("\(Self.at): set virtualService or virtualServices, not both")
        }
        if vss.isEmpty { out.append("\(Self.at).virtualService: required") }
        if let rule = istio.destinationRule {
            if let object = view.routes[ref(rule)] {
                if let grant = ref(rule).grantProblem(object, rolloutNamespace: namespace) {
                    out.append("\(Self.at).destinationRule.name: \(grant)")
                }
                let subsets = (object["spec"]?["subsets"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
                for (field, name) in [("canarySubsetName", rule.canarySubsetName), ("stableSubsetName", rule.stableSubsetName)]
                    where !subsets.contains(name) {
                    out.append("\(Self.at).destinationRule.\(field): subset \"\(name)\" is not in DestinationRule \"\(rule.name)\"")
                }
            } else {
                out.append("\(Self.at).destinationRule.name: DestinationRule \"\(ref(rule).name)\" not found in namespace \(ref(rule).namespace)")
            }
        } else if canaryService == nil || stableService == nil {
            out.append("\(Self.at): host-level routing needs spec.strategy.canary.canaryService and stableService (or a destinationRule)")
        }
        for (k, vs) in vss.enumerated() {
            let at = istio.virtualServices == nil ? "\(Self.at).virtualService" : "\(Self.at).virtualServices[\(k)]"
            guard let object = view.routes[ref(vs)] else {
                out.append("\(at).name: VirtualService \"\(ref(vs).name)\" not found in namespace \(ref(vs).namespace)")
                continue
            }
            if let grant = ref(vs).grantProblem(object, rolloutNamespace: namespace) {
                out.append("\(at).name: \(grant)")
                continue
            }
            let http = object["spec"]?["http"]?.arrayValue ?? []
            if let names = vs.routes {
                for (j, name) in names.enumerated() where !http.contains(where: { $0["name"]?.stringValue == name }) {
                    out.append("\(at).routes[\(j)]: HTTP route \"\(name)\" is not in VirtualService \"\(vs.name)\"")
                }
            } else if vs.tlsRoutes == nil, vs.tcpRoutes == nil, httpIndices(vs, object) == nil {
                out.append("\(at).routes: required, since VirtualService \"\(vs.name)\" has \(http.count) HTTP routes")
            }
            for i in httpIndices(vs, object) ?? [] {
                let dests = http[i]["route"]?.arrayValue ?? []
                let label = http[i]["name"]?.stringValue.map { "HTTP route \"\($0)\"" } ?? "the HTTP route"
                if !dests.contains(where: { isCanary($0["destination"]) }) {
                    out.append("\(at): \(label) of VirtualService \"\(vs.name)\" has no canary destination (\(istio.destinationRule.map { "subset \($0.canarySubsetName)" } ?? "host \(canaryService ?? "")"))")
                }
                if !dests.contains(where: { isStable($0["destination"]) }) {
                    out.append("\(at): \(label) of VirtualService \"\(vs.name)\" has no stable destination (\(istio.destinationRule.map { "subset \($0.stableSubsetName)" } ?? "host \(stableService ?? "")"))")
                }
            }
            for (j, tls) in (vs.tlsRoutes ?? []).enumerated() where tlsIndex(tls, object) == nil {
                out.append("\(at).tlsRoutes[\(j)]: no TLS route of VirtualService \"\(vs.name)\" matches port \(tls.port.map(String.init) ?? "any") and sniHosts \(tls.sniHosts ?? [])")
            }
            for (j, tcp) in (vs.tcpRoutes ?? []).enumerated() where tcpIndex(tcp, object) == nil {
                out.append("\(at).tcpRoutes[\(j)]: no TCP route of VirtualService \"\(vs.name)\" matches port \(tcp.port.map(String.init) ?? "any")")
            }
        }
        return out
    }

    func tlsIndex(_ route: IstioTLSRoute, _ object: JSONValue) -> Int? {
        (object["spec"]?["tls"]?.arrayValue ?? []).firstIndex { entry in
            (entry["match"]?.arrayValue ?? []).contains { m in
                let portOK = route.port.map { m["port"]?.intValue == $0 } ?? true
                let hosts = Set((m["sniHosts"]?.arrayValue ?? []).compactMap(\.stringValue))
                return portOK && Set(route.sniHosts ?? []).isSubset(of: hosts)
            }
        }
    }

    func tcpIndex(_ route: IstioTCPRoute, _ object: JSONValue) -> Int? {
        (object["spec"]?["tcp"]?.arrayValue ?? []).firstIndex { entry in
            (entry["match"]?.arrayValue ?? []).contains { m in route.port.map { m["port"]?.intValue == $0 } ?? true }
        }
    }

    // MARK: reading

    func heldWeight(_ view: RolloutView) -> Int? {
        guard let vs = istio.allVirtualServices.first, let object = view.routes[ref(vs)],
              let i = httpIndices(vs, object)?.first ?? tlsIndexFirst(vs, object) else { return nil }
        let kind = httpIndices(vs, object)?.first != nil ? "http" : "tls"
        let dests = object["spec"]?[kind]?.item(i)?["route"]?.arrayValue ?? []
        guard let canary = dests.first(where: { isCanary($0["destination"]) }) else { return nil }
        return canary["weight"]?.intValue ?? (dests.count == 1 ? maxWeight : 0)
    }

    private func tlsIndexFirst(_ vs: IstioVirtualService, _ object: JSONValue) -> Int? {
        vs.tlsRoutes?.first.flatMap { tlsIndex($0, object) }
    }

    // MARK: writing

    func patches(weight: Int, target: TrafficTarget, hashes: RouteHashes, _ view: RolloutView) -> [(RouteRef, [JSONPatchOperation])] {
        var out: [(RouteRef, [JSONPatchOperation])] = []
        for vs in istio.allVirtualServices {
            guard let object = view.routes[ref(vs)], ref(vs).grantProblem(object, rolloutNamespace: namespace) == nil else { continue }
            let ops = virtualServiceOps(vs, object, weight: weight, target: target)
            if !ops.isEmpty { out.append((ref(vs), patch(object, ops))) }
        }
        if let rule = istio.destinationRule {
            let r = ref(rule)
            if let object = view.routes[r], r.grantProblem(object, rolloutNamespace: namespace) == nil {
                let ops = subsetOps(rule, object, hashes: hashes)
                if !ops.isEmpty { out.append((r, patch(object, ops))) }
            }
        }
        return out
    }

    /// Weights on the named routes; the managed routes on top, rebuilt when they differ.
    func virtualServiceOps(_ vs: IstioVirtualService, _ object: JSONValue, weight: Int, target: TrafficTarget) -> [JSONPatchOperation] {
        var ops: [JSONPatchOperation] = []
        var working = object
        func apply(_ op: JSONPatchOperation) {
            guard let next = try? working.applying([op]) else { return }
            working = next
            ops.append(op)
        }
        // The weighted routes as they should be, for the mirror copies.
        let weighted = (httpIndices(vs, object) ?? []).compactMap { i -> JSONValue? in
            object["spec"]?["http"]?.item(i).map { reweighted($0, weight: weight) }
        }
        let wanted = managedRoutes(target, weighted: weighted.first)
        let http = object["spec"]?["http"]?.arrayValue ?? []
        let managed = Set(managedOrder)
        let present = http.filter { managed.contains($0["name"]?.stringValue ?? "") }
        if present != wanted || http.prefix(wanted.count).elementsEqual(wanted) == false {
            if object["spec"]?["http"] == nil, !wanted.isEmpty { apply(.add("/spec/http", .array([]))) }
            for i in http.indices.reversed() where managed.contains(http[i]["name"]?.stringValue ?? "") {
                apply(.remove("/spec/http/\(i)"))
            }
            for (k, route) in wanted.enumerated() { apply(.add("/spec/http/\(k)", route)) }
        }
        // Weights, at the indices the routes have now.
        for i in httpIndices(vs, working) ?? [] {
            weightOps("/spec/http/\(i)", working["spec"]?["http"]?.item(i), weight: weight).forEach(apply)
        }
        for tls in vs.tlsRoutes ?? [] {
            if let i = tlsIndex(tls, working) { weightOps("/spec/tls/\(i)", working["spec"]?["tls"]?.item(i), weight: weight).forEach(apply) }
        }
        for tcp in vs.tcpRoutes ?? [] {
            if let i = tcpIndex(tcp, working) { weightOps("/spec/tcp/\(i)", working["spec"]?["tcp"]?.item(i), weight: weight).forEach(apply) }
        }
        return ops
    }

    /// The weight changes of one route's destinations: canary `weight`, stable the rest; others untouched.
    func weightOps(_ path: String, _ route: JSONValue?, weight: Int) -> [JSONPatchOperation] {
        var ops: [JSONPatchOperation] = []
        for (j, dest) in (route?["route"]?.arrayValue ?? []).enumerated() {
            let want: Int
            if isCanary(dest["destination"]) { want = weight } else if isStable(dest["destination"]) { want = maxWeight - weight } else { continue }
            guard dest["weight"]?.intValue != want else { continue }
            let value = JSONValue.number(Double(want))
            ops.append(dest["weight"] == nil ? .add("\(path)/route/\(j)/weight", value) : .replace("\(path)/route/\(j)/weight", value))
        }
        return ops
    }

    func reweighted(_ route: JSONValue, weight: Int) -> JSONValue {
        guard case .array(var dests)? = route["route"] else { return route }
        for j in dests.indices {
            if isCanary(dests[j]["destination"]) { dests[j] = dests[j].setting(["weight"], to: .number(Double(weight))) }
            if isStable(dests[j]["destination"]) { dests[j] = dests[j].setting(["weight"], to: .number(Double(maxWeight - weight))) }
        }
        return route.setting(["route"], to: .array(dests))
    }

    /// The header and mirror routes the target wants, in managedRoutes order.
    func managedRoutes(_ target: TrafficTarget, weighted: JSONValue?) -> [JSONValue] {
        let canaryDestination = (weighted?["route"]?.arrayValue ?? []).first { isCanary($0["destination"]) }?["destination"]
        var byName: [String: JSONValue] = [:]
        for header in target.headerRoutes {
            guard let canaryDestination, let matches = header.match, !matches.isEmpty else { continue }
            let match: [JSONValue] = matches.map { m in ["headers": .object([m.headerName: Self.stringMatch(m.headerValue)])] }
            byName[header.name] = ["name": .string(header.name), "match": .array(match), "route": [["destination": canaryDestination]]]
        }
        for mirror in target.mirrorRoutes {
            guard let canaryDestination, let weighted, let matches = mirror.match, !matches.isEmpty else { continue }
            let match: [JSONValue] = matches.map { m in
                var o: [String: JSONValue] = [:]
                if let method = m.method { o["method"] = Self.stringMatch(method) }
                if let path = m.path { o["uri"] = Self.stringMatch(path) }
                if let headers = m.headers { o["headers"] = .object(headers.mapValues(Self.stringMatch)) }
                return .object(o)
            }
            var route = weighted.setting(["name"], to: .string(mirror.name)).setting(["match"], to: .array(match))
            route = route.setting(["mirror"], to: canaryDestination)
            route = route.setting(["mirrorPercentage"], to: ["value": .number(Double(mirror.percentage ?? 100))])
            byName[mirror.name] = route
        }
        return managedOrder.compactMap { byName[$0] }
    }

    static func stringMatch(_ m: StringMatch) -> JSONValue {
        if let e = m.exact { return ["exact": .string(e)] }
        if let p = m.prefix { return ["prefix": .string(p)] }
        return ["regex": .string(m.regex ?? "")]
    }

    /// Subset-level: each subset's labels carry its side's hash.
    func subsetOps(_ rule: IstioDestinationRule, _ object: JSONValue, hashes: RouteHashes) -> [JSONPatchOperation] {
        var ops: [JSONPatchOperation] = []
        for (i, subset) in (object["spec"]?["subsets"]?.arrayValue ?? []).enumerated() {
            let name = subset["name"]?.stringValue
            let want: String?
            if name == rule.canarySubsetName { want = hashes.canaryReady ? hashes.canary : nil } else if name == rule.stableSubsetName { want = hashes.stable } else { continue }
            guard let want, subset["labels"]?[podTemplateHashLabel]?.stringValue != want else { continue }
            if subset["labels"] == nil {
                ops.append(.add("/spec/subsets/\(i)/labels", .object([podTemplateHashLabel: .string(want)])))
            } else {
                let key = podTemplateHashLabel.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
                ops.append(.add("/spec/subsets/\(i)/labels/\(key)", .string(want)))
            }
        }
        return ops
    }
}
