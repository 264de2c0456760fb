import Kube

/// Simulated routing: what a mesh or gateway would do with podsim's simulated
/// requests, read from Istio VirtualServices (with DestinationRule subsets)
/// and Gateway API HTTPRoutes. Pure: `RouteWatcher` feeds it the objects and
/// `Traffic` asks it for each pod's rate.
///
/// The simulated requests are of two kinds, `GET /` without and with the test
/// header. A route decides per kind which of its rules takes the request (Istio:
/// the first match; Gateway API: the most specific match), so matching is done
/// once when a route is read, never per request. Route objects are written by
/// users: anything malformed makes a rule match nothing or a destination
/// unresolvable (its requests are not served, as a mesh answers 503), never a
/// crash.
enum RequestKind: Int, CaseIterable, Sendable {
    case plain, tagged
}

/// The request a route's match conditions are evaluated against.
struct SimulatedRequest: Sendable {
    var method = "GET"
    var path = "/"
    /// Lowercased names: header names are case-insensitive.
    var headers: [String: String] = [:]

    /// The two kinds, given the test header.
    static func kinds(testHeader name: String, value: String) -> [RequestKind: SimulatedRequest] {
        [.plain: SimulatedRequest(), .tagged: SimulatedRequest(headers: [name.lowercased(): value])]
    }
}

/// A Service by namespace and name.
struct ServiceKey: Hashable, Sendable, Comparable {
    var namespace: String
    var name: String

    static func < (a: ServiceKey, b: ServiceKey) -> Bool { (a.namespace, a.name) < (b.namespace, b.name) }
}

/// Where a route sends requests: a Service, optionally narrowed to an Istio subset.
struct RouteTarget: Hashable, Sendable {
    var service: ServiceKey
    var subset: String?
}

/// The pods a target reaches: those in `namespace` carrying every label.
struct PodSelector: Hashable, Sendable {
    var namespace: String
    var labels: [String: String]

    func matches(_ podLabels: [String: String]) -> Bool {
        labels.allSatisfy { podLabels[$0.key] == $0.value }
    }
}

/// One route object (a VirtualService or an HTTPRoute), read down to what
/// the simulation needs.
struct SimRoute: Hashable, Sendable {
    struct Backend: Hashable, Sendable {
        /// nil: a destination that cannot be a Service here (an external host, another kind).
        var target: RouteTarget?
        var weight: Double
    }

    struct Mirror: Hashable, Sendable {
        var target: RouteTarget?
        /// Share of the rule's requests copied, 0...1.
        var fraction: Double
    }

    struct Rule: Hashable, Sendable {
        var backends: [Backend] = []
        var mirrors: [Mirror] = []
    }

    /// "VirtualService ns/name", for logs.
    var id: String
    var rules: [Rule]
    /// Per request kind, the index of the rule that takes it (absent: none does).
    var chosen: [RequestKind: Int]

    /// Every target requests may be sent to, mirrors included.
    var targets: Set<RouteTarget> {
        var all = Set<RouteTarget>()
        for rule in rules {
            for b in rule.backends { if let t = b.target { all.insert(t) } }
            for m in rule.mirrors { if let t = m.target { all.insert(t) } }
        }
        return all
    }
}

/// Everything the simulation routes by: the routes, and how their targets
/// resolve to pods (a target missing here has no Service, or names a subset
/// no DestinationRule defines, so nothing serves it).
struct RoutingTable: Hashable, Sendable {
    var routes: [SimRoute] = []
    var selectors: [RouteTarget: PodSelector] = [:]

    var isEmpty: Bool { routes.isEmpty }
}

// MARK: - Reading route objects

/// The parts of a Service, DestinationRule or route object podsim reads; the
/// spec stays raw JSON so that one malformed field spoils only itself.
struct RouteObject: Decodable, Sendable {
    var metadata: ObjectMeta
    var spec: JSONValue?
}

enum RouteReader {
    /// Weights are clamped to this, so a hostile number cannot overflow a sum.
    static let maxWeight = 1_000_000.0

    /// `web`, `web.ns`, `web.ns.svc`, `web.ns.svc.cluster.local` → a Service;
    /// a short name is relative to the object's namespace, as Istio reads it.
    /// Anything else (an external host, a wildcard) is no Service.
    static func service(host: String, namespace: String) -> ServiceKey? {
        guard !host.isEmpty, !host.contains("*") else { return nil }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !parts.contains(where: \.isEmpty) else { return nil }
        switch parts.count {
        case 1: return ServiceKey(namespace: namespace, name: parts[0])
        case 2: return ServiceKey(namespace: parts[1], name: parts[0])
        default: return parts[2] == "svc" ? ServiceKey(namespace: parts[1], name: parts[0]) : nil
        }
    }

    static func number(_ v: JSONValue?) -> Double? {
        guard case .number(let n) = v, n.isFinite else { return nil }
        return n
    }

    static func array(_ v: JSONValue?) -> [JSONValue] {
        if case .array(let a) = v { return a }
        return []
    }

    static func fields(_ v: JSONValue?) -> [String: JSONValue]? {
        if case .object(let o) = v { return o }
        return nil
    }

    /// A full-string regular expression match, safe on any pattern (see
    /// `BoundedRegex`); a pattern that does not compile matches nothing.
    static func wholeMatch(_ pattern: String, _ value: String) -> Bool {
        BoundedRegex(pattern)?.wholeMatch(value) ?? false
    }

    // MARK: Istio

    /// A VirtualService's HTTP routes. `spec.http[]` is tried in order and the
    /// first whose `match` holds takes the request, as Istio does.
    static func virtualService(_ object: RouteObject, requests: [RequestKind: SimulatedRequest]) -> SimRoute {
        let ns = object.metadata.namespace ?? ""
        var rules: [SimRoute.Rule] = []
        var chosen: [RequestKind: Int] = [:]
        for (index, http) in array(object.spec?["http"]).enumerated() {
            guard let h = fields(http) else {
                rules.append(SimRoute.Rule())
                continue
            }
            rules.append(istioRule(h, namespace: ns))
            for (kind, request) in requests where chosen[kind] == nil && istioMatches(h["match"], request) {
                chosen[kind] = index
            }
        }
        return SimRoute(id: "VirtualService \(ns)/\(object.metadata.name ?? "")", rules: rules, chosen: chosen)
    }

    static func istioTarget(_ destination: JSONValue?, namespace: String) -> RouteTarget? {
        guard let host = destination?["host"]?.stringValue, let service = service(host: host, namespace: namespace) else { return nil }
        switch destination?["subset"] {
        case nil, .null?: return RouteTarget(service: service, subset: nil)
        case .string(let s)?: return RouteTarget(service: service, subset: s)
        default: return nil
        }
    }

    static func istioRule(_ h: [String: JSONValue], namespace: String) -> SimRoute.Rule {
        var rule = SimRoute.Rule()
        let destinations = array(h["route"])
        for d in destinations {
            // One destination takes everything; beside others a missing weight is 0.
            let weight = destinations.count == 1 ? 1 : min(max(number(d["weight"]) ?? 0, 0), maxWeight)
            rule.backends.append(SimRoute.Backend(target: istioTarget(d["destination"], namespace: namespace), weight: weight))
        }
        if let mirror = h["mirror"], mirror != .null {
            // No mirrorPercentage (nor the older integer mirrorPercent): everything is mirrored.
            let percent = number(h["mirrorPercentage"]?["value"]) ?? number(h["mirrorPercent"]) ?? 100
            rule.mirrors.append(SimRoute.Mirror(target: istioTarget(mirror, namespace: namespace), fraction: min(max(percent / 100, 0), 1)))
        }
        for m in array(h["mirrors"]) {
            let percent = number(m["percentage"]?["value"]) ?? 100
            rule.mirrors.append(SimRoute.Mirror(target: istioTarget(m["destination"], namespace: namespace), fraction: min(max(percent / 100, 0), 1)))
        }
        return rule
    }

    /// `match` absent or empty matches everything; otherwise any one block
    /// whose conditions all hold.
    static func istioMatches(_ match: JSONValue?, _ request: SimulatedRequest) -> Bool {
        switch match {
        case nil, .null?: return true
        case .array(let blocks)?: return blocks.isEmpty || blocks.contains { istioBlock($0, request) }
        default: return false
        }
    }

    /// One match block. Conditions a simulated request cannot satisfy
    /// (authority, query parameters, source labels or namespace, anything
    /// unknown) do not hold; `port` and `gateways` are taken to hold, since the
    /// simulated requests arrive on the route's own port and gateways.
    static func istioBlock(_ block: JSONValue, _ request: SimulatedRequest) -> Bool {
        guard let b = fields(block) else { return false }
        let ignoreCase = b["ignoreUriCase"] == .bool(true)
        for (key, condition) in b {
            switch key {
            case "name", "statPrefix", "port", "gateways", "ignoreUriCase":
                continue
            case "uri":
                let path = ignoreCase ? request.path.lowercased() : request.path
                guard istioString(ignoreCase ? lowercasedMatch(condition) : condition, path) else { return false }
            case "method":
                guard istioString(condition, request.method) else { return false }
            case "scheme":
                guard istioString(condition, "http") else { return false }
            case "headers":
                guard let headers = fields(condition) else { return false }
                for (name, m) in headers where !istioString(m, request.headers[name.lowercased()]) { return false }
            case "withoutHeaders":
                guard let headers = fields(condition) else { return false }
                for (name, m) in headers where istioString(m, request.headers[name.lowercased()]) { return false }
            case "queryParams":
                guard let params = fields(condition) else { return false }
                if !params.isEmpty { return false }
            case "sourceLabels":
                guard let labels = fields(condition) else { return false }
                if !labels.isEmpty { return false }
            default:
                return false
            }
        }
        return true
    }

    private static func lowercasedMatch(_ m: JSONValue) -> JSONValue {
        guard case .object(var o) = m else { return m }
        for key in ["exact", "prefix"] { if let s = o[key]?.stringValue { o[key] = .string(s.lowercased()) } }
        return .object(o)
    }

    /// Istio's StringMatch (`exact`, `prefix`, `regex`; an empty one asks only
    /// that the value be there) against a value, nil when absent.
    static func istioString(_ m: JSONValue?, _ value: String?) -> Bool {
        guard let o = fields(m), let value else { return false }
        if o.isEmpty { return true }
        if let e = o["exact"] { return e.stringValue == value }
        if let p = o["prefix"] { return p.stringValue.map { value.hasPrefix($0) } ?? false }
        if let r = o["regex"] { return r.stringValue.map { wholeMatch($0, value) } ?? false }
        return false
    }

    /// A DestinationRule's subsets, keyed by the Service its host names.
    static func subsets(_ object: RouteObject) -> (ServiceKey, [String: [String: String]])? {
        guard let host = object.spec?["host"]?.stringValue,
              let service = service(host: host, namespace: object.metadata.namespace ?? "") else { return nil }
        var subsets: [String: [String: String]] = [:]
        for s in array(object.spec?["subsets"]) {
            guard let name = s["name"]?.stringValue, subsets[name] == nil else { continue }
            // Labels that are not all strings select nothing: the subset is left out.
            guard let subsetLabels = labels(s["labels"] ?? .object([:])) else { continue }
            subsets[name] = subsetLabels
        }
        return (service, subsets)
    }

    static func labels(_ v: JSONValue) -> [String: String]? {
        guard let o = fields(v) else { return nil }
        var out: [String: String] = [:]
        for (k, value) in o {
            guard let s = value.stringValue else { return nil }
            out[k] = s
        }
        return out
    }

    // MARK: Gateway API

    /// An HTTPRoute's rules. The rule with the most specific matching match
    /// takes the request (exact path, then the longest prefix, then a method,
    /// then the most headers, then the most query parameters; ties go to the
    /// earlier rule), as the Gateway API specifies.
    static func httpRoute(_ object: RouteObject, requests: [RequestKind: SimulatedRequest]) -> SimRoute {
        let ns = object.metadata.namespace ?? ""
        var rules: [SimRoute.Rule] = []
        var best: [RequestKind: (rank: [Int], index: Int)] = [:]
        for (index, value) in array(object.spec?["rules"]).enumerated() {
            guard let r = fields(value) else {
                rules.append(SimRoute.Rule())
                continue
            }
            rules.append(gatewayRule(r, namespace: ns))
            for (kind, request) in requests {
                guard let rank = gatewayRank(r["matches"], request) else { continue }
                if let current = best[kind], !current.rank.lexicographicallyPrecedes(rank) { continue }
                best[kind] = (rank, index)
            }
        }
        return SimRoute(id: "HTTPRoute \(ns)/\(object.metadata.name ?? "")", rules: rules, chosen: best.mapValues(\.index))
    }

    /// A backendRef to a core Service (the default kind), in the route's namespace unless it names one.
    static func gatewayTarget(_ ref: JSONValue?, namespace: String) -> RouteTarget? {
        guard let name = ref?["name"]?.stringValue, !name.isEmpty else { return nil }
        let group = ref?["group"]?.stringValue ?? "", kind = ref?["kind"]?.stringValue ?? "Service"
        guard group.isEmpty, kind == "Service" else { return nil }
        if let other = ref?["namespace"], other != .null {
            guard let ns = other.stringValue, !ns.isEmpty else { return nil }
            return RouteTarget(service: ServiceKey(namespace: ns, name: name), subset: nil)
        }
        return RouteTarget(service: ServiceKey(namespace: namespace, name: name), subset: nil)
    }

    static func gatewayRule(_ r: [String: JSONValue], namespace: String) -> SimRoute.Rule {
        var rule = SimRoute.Rule()
        let filters = array(r["filters"])
        // A redirect answers at the gateway: no backend sees the request.
        if filters.contains(where: { $0["type"]?.stringValue == "RequestRedirect" }) { return rule }
        for ref in array(r["backendRefs"]) {
            // Weight defaults to 1 and is proportional.
            let weight = ref["weight"].flatMap { $0 == .null ? nil : $0 }.map { min(max(number($0) ?? 0, 0), maxWeight) } ?? 1
            rule.backends.append(SimRoute.Backend(target: gatewayTarget(ref, namespace: namespace), weight: weight))
        }
        for f in filters where f["type"]?.stringValue == "RequestMirror" {
            let m = f["requestMirror"]
            var fraction = 1.0
            if let percent = number(m?["percent"]) {
                fraction = percent / 100
            } else if let numerator = number(m?["fraction"]?["numerator"]) {
                let denominator = number(m?["fraction"]?["denominator"]) ?? 100
                fraction = denominator > 0 ? numerator / denominator : 0
            }
            rule.mirrors.append(SimRoute.Mirror(target: gatewayTarget(m?["backendRef"], namespace: namespace), fraction: min(max(fraction, 0), 1)))
        }
        return rule
    }

    /// The precedence of the rule's most specific match that holds, or nil when none does.
    /// No `matches` means one match on the path prefix "/".
    static func gatewayRank(_ matches: JSONValue?, _ request: SimulatedRequest) -> [Int]? {
        let list: [JSONValue]
        switch matches {
        case nil, .null?: list = [.object([:])]
        case .array(let a)?: list = a.isEmpty ? [.object([:])] : a
        default: return nil
        }
        var best: [Int]?
        for m in list {
            guard let rank = gatewayMatch(m, request) else { continue }
            if best.map({ $0.lexicographicallyPrecedes(rank) }) ?? true { best = rank }
        }
        return best
    }

    /// One HTTPRouteMatch: its precedence [exact path, prefix length, method, headers, query parameters] if it holds.
    static func gatewayMatch(_ match: JSONValue, _ request: SimulatedRequest) -> [Int]? {
        guard let m = fields(match) else { return nil }
        var exact = 0, prefixLength = 0, methods = 0
        switch m["path"] {
        case nil, .null?:
            prefixLength = 1
        case .object(let p)?:
            let type = p["type"]?.stringValue ?? "PathPrefix"
            let value = p["value"]?.stringValue ?? "/"
            switch type {
            case "Exact":
                guard value == request.path else { return nil }
                exact = 1
            case "PathPrefix":
                // Element-wise: "/a" matches "/a" and "/a/b", not "/ab".
                let prefix = value.count > 1 && value.hasSuffix("/") ? String(value.dropLast()) : value
                guard request.path == prefix || request.path.hasPrefix(prefix == "/" ? "/" : prefix + "/") else { return nil }
                prefixLength = prefix.count
            case "RegularExpression":
                guard wholeMatch(value, request.path) else { return nil }
            default:
                return nil
            }
        default:
            return nil
        }
        if let method = m["method"], method != .null {
            guard method.stringValue == request.method else { return nil }
            methods = 1
        }
        var headers: [JSONValue] = []
        switch m["headers"] {
        case nil, .null?: break
        case .array(let a)?: headers = a
        default: return nil
        }
        for h in headers {
            guard let name = h["name"]?.stringValue, let value = h["value"]?.stringValue,
                  let actual = request.headers[name.lowercased()] else { return nil }
            switch h["type"]?.stringValue ?? "Exact" {
            case "Exact": guard actual == value else { return nil }
            case "RegularExpression": guard wholeMatch(value, actual) else { return nil }
            default: return nil
            }
        }
        // The simulated requests carry no query parameters.
        switch m["queryParams"] {
        case nil, .null?: break
        case .array(let a)? where a.isEmpty: break
        default: return nil
        }
        return [exact, prefixLength, methods, headers.count, 0]
    }
}

// MARK: - Rates

/// How many requests a second each pod behind a route serves.
enum RoutingPlan {
    struct PodInfo: Sendable {
        var namespace: String
        var labels: [String: String]
    }

    /// Each route offers `requestsPerPod` for every Ready pod behind its
    /// destinations (so totals stay as they are without routes); `taggedShare`
    /// of it carries the test header. Each kind goes to the rule that takes it,
    /// is split by that rule's weights, and each destination's share is spread
    /// evenly over its Ready pods; a destination without any loses its share,
    /// as a mesh answers 503. Mirrors add a copy at their destination. The
    /// answer holds every pod behind a route, with 0 if no request reaches it;
    /// pods it does not hold serve as if there were no routes.
    static func rates(table: RoutingTable, pods: [String: PodInfo], requestsPerPod: Double, taggedShare: Double) -> [String: Double] {
        guard !table.isEmpty else { return [:] }
        let namespaces = Set(table.selectors.values.map(\.namespace))
        var byNamespace: [String: [(uid: String, labels: [String: String])]] = [:]
        for (uid, pod) in pods where namespaces.contains(pod.namespace) {
            byNamespace[pod.namespace, default: []].append((uid, pod.labels))
        }
        var memo: [RouteTarget: [String]] = [:]
        func members(of target: RouteTarget?) -> [String] {
            guard let target else { return [] }
            if let known = memo[target] { return known }
            var found: [String] = []
            if let selector = table.selectors[target] {
                found = (byNamespace[selector.namespace] ?? []).filter { selector.matches($0.labels) }.map(\.uid)
            }
            memo[target] = found
            return found
        }

        var rates: [String: Double] = [:]
        func spread(_ amount: Double, over backends: [SimRoute.Backend]) {
            let total = backends.reduce(0) { $0 + $1.weight }
            guard amount > 0, total > 0 else { return }
            for b in backends where b.weight > 0 {
                let uids = members(of: b.target)
                guard !uids.isEmpty else { continue }
                let each = amount * (b.weight / total) / Double(uids.count)
                for uid in uids { rates[uid, default: 0] += each }
            }
        }

        let share = min(max(taggedShare, 0), 1)
        for route in table.routes {
            var behind = Set<String>()
            for rule in route.rules {
                for b in rule.backends { behind.formUnion(members(of: b.target)) }
                for m in rule.mirrors { for uid in members(of: m.target) { rates[uid, default: 0] += 0 } }
            }
            for uid in behind { rates[uid, default: 0] += 0 }
            let load = requestsPerPod * Double(behind.count)
            for kind in RequestKind.allCases {
                guard let index = route.chosen[kind], route.rules.indices.contains(index) else { continue }
                let rule = route.rules[index]
                let amount = load * (kind == .tagged ? share : 1 - share)
                spread(amount, over: rule.backends)
                for m in rule.mirrors {
                    spread(amount * m.fraction, over: [SimRoute.Backend(target: m.target, weight: 1)])
                }
            }
        }
        return rates
    }
}
