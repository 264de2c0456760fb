import Kube
import Logging

/// Reads the cluster's routes once a second and hands `Traffic` a fresh
/// `RoutingTable`. Polling, not watching: the route APIs may be installed
/// (or removed) while podsim runs, a 404 on their group/version just means
/// "no routes", and with no route objects nothing else is read at all.
/// DestinationRules are read only when a route names a subset, and Services
/// only in the namespaces routes point into.
struct RouteWatcher: Sendable {
    let client: KubeClient
    let traffic: Traffic
    let requests: [RequestKind: SimulatedRequest]
    let logger: Logger

    /// A list of one kind of route object, and whether its API is served.
    enum Listing {
        case objects([RouteObject])
        case notServed
        case failed(String)
    }

    /// Routes as read, by uid and resourceVersion: an object is read (its
    /// regexes matched) once per change, not once a second.
    struct ReadCache {
        var routes: [String: (version: String, route: SimRoute)] = [:]

        mutating func route(_ object: RouteObject, _ read: (RouteObject) -> SimRoute) -> SimRoute {
            guard let uid = object.metadata.uid, let version = object.metadata.resourceVersion else { return read(object) }
            if let hit = routes[uid], hit.version == version { return hit.route }
            let route = read(object)
            routes[uid] = (version, route)
            return route
        }

        /// Keeps only the objects still listed.
        mutating func keep(_ uids: Set<String>) {
            if routes.count > uids.count { routes = routes.filter { uids.contains($0.key) } }
        }
    }

    func run() async {
        var last = RoutingTable()
        var lastProblems: Set<String> = []
        var served: [String: Bool] = [:]
        var cache = ReadCache()
        while !Task.isCancelled {
            var problems: Set<String> = []
            let table = await read(problems: &problems, served: &served, cache: &cache)
            // A failed read keeps the routes as they were: a blip must not reroute traffic.
            if let table {
                if table.routes.count != last.routes.count {
                    logger.info("simulated routing: \(table.routes.count) route object(s)")
                }
                last = table
                await traffic.route(by: table)
            }
            for p in problems.subtracting(lastProblems) { logger.warning("simulated routing: \(p)") }
            lastProblems = problems
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// The routing table now, or nil when a list failed.
    func read(problems: inout Set<String>, served: inout [String: Bool], cache: inout ReadCache) async -> RoutingTable? {
        var routes: [SimRoute] = []
        var listed = Set<String>()
        defer { cache.keep(listed) }
        for (resource, parse) in [(Resource.virtualServices, RouteReader.virtualService), (Resource.httpRoutes, RouteReader.httpRoute)] {
            let listing = await list(resource)
            switch listing {
            case .objects(let objects):
                if served[resource.description] != true { logger.info("simulated routing: \(resource.description)/\(resource.version) is served") }
                served[resource.description] = true
                let ordered = objects.sorted { ($0.metadata.namespace ?? "", $0.metadata.name ?? "") < ($1.metadata.namespace ?? "", $1.metadata.name ?? "") }
                for object in ordered {
                    if let uid = object.metadata.uid { listed.insert(uid) }
                    routes.append(cache.route(object) { parse($0, requests) })
                }
            case .notServed:
                if served[resource.description] == true { logger.info("simulated routing: \(resource.description)/\(resource.version) is gone") }
                served[resource.description] = false
            case .failed(let why):
                problems.insert("cannot list \(resource.description): \(why)")
                return nil
            }
        }
        guard !routes.isEmpty else { return RoutingTable() }

        var targets = Set<RouteTarget>()
        for route in routes { targets.formUnion(route.targets) }
        var subsets: [ServiceKey: [String: [String: String]]] = [:]
        if targets.contains(where: { $0.subset != nil }) {
            switch await list(.destinationRules) {
            case .objects(let rules):
                // Istio looks a host's DestinationRule up in the Service's own namespace first.
                let ordered = rules.sorted { ($0.metadata.namespace ?? "", $0.metadata.name ?? "") < ($1.metadata.namespace ?? "", $1.metadata.name ?? "") }
                for rule in ordered {
                    guard let (service, named) = RouteReader.subsets(rule) else { continue }
                    if subsets[service] == nil || rule.metadata.namespace == service.namespace { subsets[service] = named }
                }
            case .notServed:
                break
            case .failed(let why):
                problems.insert("cannot list \(Resource.destinationRules.description): \(why)")
                return nil
            }
        }

        var selectors: [ServiceKey: [String: String]] = [:]
        for namespace in Set(targets.map(\.service.namespace)).sorted() {
            do {
                let services: ObjectList<RouteObject> = try await client.listAll(.services, namespace: namespace)
                for s in services.items {
                    // A Service without a selector (or with a malformed one) selects no pods here.
                    guard let name = s.metadata.name, let selector = s.spec?["selector"].flatMap(RouteReader.labels), !selector.isEmpty else { continue }
                    selectors[ServiceKey(namespace: namespace, name: name)] = selector
                }
            } catch let error as KubeError where error.isNotFound {
                continue
            } catch {
                problems.insert("cannot list services in \(namespace): \(error)")
                return nil
            }
        }

        var table = RoutingTable(routes: routes)
        for target in targets {
            guard var labels = selectors[target.service] else { continue }
            if let subset = target.subset {
                guard let extra = subsets[target.service]?[subset] else { continue }
                // A subset narrows the Service: both sets of labels must hold.
                var clash = false
                for (k, v) in extra {
                    if let have = labels[k], have != v { clash = true }
                    labels[k] = v
                }
                if clash { continue }
            }
            table.selectors[target] = PodSelector(namespace: target.service.namespace, labels: labels)
        }
        return table
    }

    func list(_ resource: Resource) async -> Listing {
        do {
            let list: ObjectList<RouteObject> = try await client.listAll(resource)
            return .objects(list.items)
        } catch let error as KubeError where error.isNotFound {
            return .notServed
        } catch {
            return .failed("\(error)")
        }
    }
}
