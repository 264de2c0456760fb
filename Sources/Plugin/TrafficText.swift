import AviaryAPI
import KubeAPI

/// How `get rollout` and `plan` name a canary's traffic router, its route
/// steps and its abort strategy, in one wording, so the two commands agree.
public enum TrafficText {
    /// The router and the objects whose weights it moves, e.g. "Istio
    /// VirtualService web (routes: primary)"; "replica split" without one
    /// (pod counts and Service selectors move the traffic).
    public static func router(_ canary: CanaryStrategy) -> String {
        guard let routing = canary.trafficRouting else { return "replica split" }
        var parts: [String] = []
        if let istio = routing.istio {
            let services = istio.allVirtualServices
            var text = "Istio " + (services.count == 1 ? "VirtualService " : "VirtualServices ") + services.map(virtualService).joined(separator: ", ")
            if services.isEmpty { text = "Istio (no VirtualService named)" }
            if let rule = istio.destinationRule {
                text += ", DestinationRule \(rule.name) (subsets: \(rule.canarySubsetName), \(rule.stableSubsetName))"
            }
            parts.append(text)
        }
        do {
            if let gateway = try routing.gateway {
                let prefix = gateway.namespace.map { "\($0)/" } ?? ""
                let http = gateway.allHTTPRoutes.map { prefix + $0.name }
                var objects: [String] = []
                if !http.isEmpty { objects.append((http.count == 1 ? "HTTPRoute " : "HTTPRoutes ") + http.joined(separator: ", ")) }
                if let grpc = gateway.grpcRoute { objects.append("GRPCRoute \(prefix)\(grpc)") }
                parts.append("Gateway API " + (objects.isEmpty ? "(no route named)" : objects.joined(separator: ", ")))
            }
        } catch {
            parts.append("Gateway API (configuration unreadable)")
        }
        let otherPlugins = (routing.plugins ?? [:]).keys.filter { $0 != CanaryTrafficRouting.gatewayAPIPlugin }.sorted()
        parts += (otherPlugins.map { "plugin \($0)" } + routing.unsupported).map { "\($0) (not supported)" }
        var text = parts.isEmpty ? "none named" : parts.joined(separator: "; ")
        let max = maxWeight(canary)
        if max != CanaryTrafficRouting.defaultMaxTrafficWeight { text += "; max weight \(max)" }
        return text
    }

    static func virtualService(_ vs: IstioVirtualService) -> String {
        var kinds: [String] = []
        if let routes = vs.routes, !routes.isEmpty { kinds.append("routes: " + routes.joined(separator: ", ")) }
        if let tls = vs.tlsRoutes, !tls.isEmpty {
            kinds.append("tls: " + tls.map { r in ((r.port.map { [String($0)] } ?? []) + (r.sniHosts ?? [])).joined(separator: " ") }.joined(separator: ", "))
        }
        if let tcp = vs.tcpRoutes, !tcp.isEmpty { kinds.append("tcp: " + tcp.map { $0.port.map(String.init) ?? "any" }.joined(separator: ", ")) }
        return kinds.isEmpty ? vs.name : "\(vs.name) (\(kinds.joined(separator: "; ")))"
    }

    /// The weight that means all traffic.
    public static func maxWeight(_ canary: CanaryStrategy) -> Int {
        canary.trafficRouting?.maxTrafficWeight ?? CanaryTrafficRouting.defaultMaxTrafficWeight
    }

    /// A weight as a share: "10%", or "10/1000" when maxTrafficWeight is not 100.
    public static func weight(_ w: Int, max: Int) -> String {
        max == CanaryTrafficRouting.defaultMaxTrafficWeight ? "\(w)%" : "\(w)/\(max)"
    }

    /// A header or mirror route step, e.g. "setHeaderRoute header-route: X-Canary=true",
    /// "setMirrorRoute mirror: 35% of GET /api*", "setHeaderRoute header-route (remove)";
    /// nil for any other step.
    public static func routeStep(_ step: CanaryStep) -> String? {
        switch step {
        case .setHeaderRoute(let h):
            guard let match = h.match else { return "setHeaderRoute \(h.name) (remove)" }
            return "setHeaderRoute \(h.name): " + match.map { "\($0.headerName)\(stringMatch($0.headerValue))" }.joined(separator: " or ")
        case .setMirrorRoute(let m):
            guard let match = m.match else { return "setMirrorRoute \(m.name) (remove)" }
            let what = match.map { rm in
                let headers = (rm.headers ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)\(stringMatch($0.value))" }
                let parts = [rm.method.map { value($0) }, rm.path.map { value($0) }].compactMap { $0 } + headers
                return parts.isEmpty ? "all" : parts.joined(separator: " ")
            }.joined(separator: " or ")
            return "setMirrorRoute \(m.name): \(m.percentage ?? 100)% of \(what.isEmpty ? "all" : what)"
        default:
            return nil
        }
    }

    /// "=v" exact, "=v*" prefix, "~v" regular expression.
    static func stringMatch(_ m: StringMatch) -> String {
        if let e = m.exact { return "=\(e)" }
        if let p = m.prefix { return "=\(p)*" }
        if let r = m.regex { return "~\(r)" }
        return "=?"
    }

    /// A method or path alone: "GET", "/api*", "~^/v[0-9]".
    static func value(_ m: StringMatch) -> String {
        let s = stringMatch(m)
        return s.hasPrefix("=") ? String(s.dropFirst()) : s
    }

    /// The header and mirror routes in force after each step, by name, in
    /// managedRoutes' order (the order the router keeps them at the top).
    public static func routesInForce(_ canary: CanaryStrategy) -> [[String]] {
        let order = (canary.trafficRouting?.managedRoutes ?? []).map(\.name)
        var live: Set<String> = []
        return (canary.steps ?? []).map { step in
            switch step {
            case .setHeaderRoute(let h): if h.match == nil { live.remove(h.name) } else { live.insert(h.name) }
            case .setMirrorRoute(let m): if m.match == nil { live.remove(m.name) } else { live.insert(m.name) }
            default: break
            }
            return order.filter(live.contains) + live.subtracting(order).sorted()
        }
    }

    /// How an abort moves traffic back: nil for the default (all at once);
    /// e.g. "gradual, canary weight 50 → 25 → 0, each held 30s".
    public static func abortStrategy(_ canary: CanaryStrategy) -> String? {
        guard case .gradual(let g)? = canary.abortStrategy else { return nil }
        let held = g.interval.map { ", each held \($0)" } ?? ""
        if let steps = g.steps, !steps.isEmpty {
            return "gradual, canary weight " + steps.map(String.init).joined(separator: " → ") + held
        }
        if let by = g.stepWeight { return "gradual, canary weight down by \(by)" + held }
        return "gradual" + held
    }

    /// Where a gradual rollback stands, e.g. "canary at 25 since
    /// 2026-12-02T13:20:00Z, next 0"; nil when none is under way.
    public static func rollback(_ canary: CanaryStrategy, _ status: RolloutStatus?) -> String? {
        guard let rb = status?.canary?.rollback else { return nil }
        if rb.weight <= 0 { return "done: canary at 0 since \(rb.since)" }
        var next: Int?
        if case .gradual(let g)? = canary.abortStrategy {
            if let steps = g.steps { next = steps.first { $0 < rb.weight } ?? 0 } else if let by = g.stepWeight, by > 0 { next = Swift.max(0, rb.weight - by) }
        }
        let interval: String
        if case .gradual(let g)? = canary.abortStrategy, let i = g.interval { interval = " after \(i)" } else { interval = "" }
        return "canary at \(rb.weight) since \(rb.since)" + (next.map { ", next \($0)\(interval)" } ?? "")
    }
}
