import Foundation
import Kube
import Logging
import Rollouts
import Synchronization

/// Caches of the route objects traffic routers write (VirtualService,
/// DestinationRule, HTTPRoute). Each kind's informer starts only once the API
/// server serves its resource: a cluster without Istio or Gateway API has no
/// such CRD, and a watch on it would fail forever. Discovery is asked again
/// every `interval`, so installing a mesh later needs no restart, and
/// uninstalling it stops the watches instead of retrying them forever.
final class RouteInformers: Sendable {
    /// A group version's discovery document (`GET /apis/<group>/<version>`); nil when it is not served (404).
    typealias Discovery = @Sendable (_ groupVersion: String) async throws -> Data?

    let informers: [RouteKind: Informer<RouteObject>]
    private let discovery: Discovery
    private let logger: Logger
    private let interval: Duration

    private struct State {
        /// Kinds whose informer runs.
        var started: Set<RouteKind> = []
        /// The first discovery round is over (served kinds are started).
        var discovered = false
        /// Group versions already said to be missing, so the log says it once.
        var reportedMissing: Set<String> = []
        /// Kinds whose discovery failed last round (not a 404): not known to be missing, so not reported missing.
        var unknown: Set<RouteKind> = []
        /// Startup stopped waiting for a list that does not come (e.g. no RBAC for the kind).
        var gaveUp = false
        /// Resumed to stop a kind's watch: its resource is no longer served, or the controller stops.
        var stoppers: [RouteKind: CheckedContinuation<Void, Never>] = [:]
    }
    private let state = Mutex(State())

    convenience init(client: KubeClient, namespace: String?, logger: Logger, interval: Duration = .seconds(60)) {
        var informers: [RouteKind: Informer<RouteObject>] = [:]
        // Every route object in scope: a Rollout may name any of them, and may start to at any time.
        for kind in RouteKind.allCases {
            informers[kind] = Informer(Reflector(client: client, resource: kind.resource, namespace: namespace))
        }
        self.init(informers: informers, logger: logger, interval: interval) { groupVersion in
            do {
                return try await client.send("GET", "/apis/\(groupVersion)").body
            } catch let e as KubeError where e.isNotFound {
                return nil
            }
        }
    }

    /// - Parameter discovery: how a group version is looked up (tests give their own).
    init(informers: [RouteKind: Informer<RouteObject>], logger: Logger, interval: Duration = .seconds(60), discovery: @escaping Discovery) {
        self.informers = informers
        self.logger = logger
        self.interval = interval
        self.discovery = discovery
    }

    /// Sets one handler for a change of any route object.
    func onChange(_ handler: @escaping @Sendable (RouteKind, RouteObject) -> Void) {
        for (kind, informer) in informers {
            informer.onChange { old, new in (new ?? old).map { handler(kind, $0) } }
        }
    }

    /// The first discovery round is over and every informer started has listed.
    var hasSynced: Bool {
        let started = state.withLock { $0.discovered ? $0.started : nil }
        guard let started else { return false }
        return started.allSatisfy { informers[$0]?.hasSynced ?? true }
    }

    /// Synced, or startup has stopped waiting: what readiness reports.
    var isReady: Bool { hasSynced || state.withLock { $0.gaveUp } }

    /// Waits for the first discovery and the lists it started, at most
    /// `timeout`: a kind that cannot be listed (its RBAC missing from an older
    /// install) must not hold back Rollouts that use no router; those that do
    /// wait in `objects` until their kind has listed.
    func waitForSync(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !hasSynced {
            if ContinuousClock.now >= deadline {
                let unsynced = state.withLock { s in
                    s.gaveUp = true
                    return s.started.filter { informers[$0]?.hasSynced == false }.map(\.resource.description).sorted()
                }
                logger.warning("route caches not listed after \(timeout) (\(unsynced.joined(separator: ", "))); reconciling Rollouts without routers meanwhile")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The objects `refs` name that are cached, whole; nil while a kind they
    /// need has started but not listed yet, or could not be discovered (the
    /// reconcile waits rather than call a route missing that is only not read yet).
    func objects(_ refs: [RouteRef]) -> [RouteRef: JSONValue]? {
        let (started, unknown) = state.withLock { ($0.started, $0.unknown) }
        var found: [RouteRef: JSONValue] = [:]
        for ref in refs {
            if unknown.contains(ref.kind) { return nil }
            guard started.contains(ref.kind), let informer = informers[ref.kind] else { continue }
            guard informer.hasSynced else { return nil }
            if let o = informer.get(namespace: ref.namespace, name: ref.name) { found[ref] = o.object }
        }
        return found
    }

    /// Our own write's answer, so the next reconcile sees it before the watch does.
    func store(_ kind: RouteKind, _ object: RouteObject) {
        informers[kind]?.store(object)
    }

    /// Discovers, watches what is served, and asks again every `interval`
    /// (two small GETs a minute). Runs until cancelled.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            while !Task.isCancelled {
                for kind in await discover() {
                    group.addTask { await self.watch(kind) }
                }
                let failed = state.withLock { s in
                    s.discovered = true
                    return !s.unknown.isEmpty
                }
                // A failed discovery is asked again soon: Rollouts of that kind wait meanwhile.
                try? await Task.sleep(for: failed ? .seconds(5) : interval)
            }
        }
    }

    /// Runs a kind's informer until its resource is withdrawn (or the controller stops).
    private func watch(_ kind: RouteKind) async {
        guard let informer = informers[kind] else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await informer.run() }
            group.addTask { await self.untilWithdrawn(kind) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Returns once discovery stops `kind` (or on cancellation).
    private func untilWithdrawn(_ kind: RouteKind) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if !s.started.contains(kind) || Task.isCancelled { return true }
                    s.stoppers[kind] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.stoppers.removeValue(forKey: kind) }?.resume()
        }
    }

    /// One discovery round: the kinds newly served, marked started; a started
    /// kind whose resource is gone (its CRD deleted) is stopped, so its watch
    /// does not fail every few seconds until a restart.
    func discover() async -> [RouteKind] {
        let byGroupVersion = Dictionary(grouping: RouteKind.allCases, by: { $0.resource.apiVersion })
        var served: [RouteKind] = [], unknown: Set<RouteKind> = []
        for (groupVersion, kinds) in byGroupVersion.sorted(by: { $0.key < $1.key }) {
            let plurals: Set<String>
            do {
                plurals = try await discovery(groupVersion).map(Self.servedResources) ?? []
            } catch {
                if error is CancellationError || Task.isCancelled { return [] }
                logger.warning("cannot discover \(groupVersion) (asking again in 5 s): \(error)")
                unknown.formUnion(kinds)
                continue
            }
            for kind in kinds {
                let resource = kind.resource
                let started = state.withLock { $0.started.contains(kind) }
                if plurals.contains(resource.plural) {
                    guard !started else { continue }
                    served.append(kind)
                    logger.info("\(resource) is served: watching \(kind.rawValue)s for traffic routing")
                } else if started {
                    state.withLock { s in
                        s.started.remove(kind)
                        s.reportedMissing.insert(resource.description)
                        return s.stoppers.removeValue(forKey: kind)
                    }?.resume()
                    logger.warning("\(resource) is no longer served (its CRD was deleted): stopped watching \(kind.rawValue)s; \(kind.rawValue) routing is unavailable until it is back")
                } else if state.withLock({ $0.reportedMissing.insert(resource.description).inserted }) {
                    logger.info("\(resource) is not served (its CRD is not installed): \(kind.rawValue) routing is unavailable until it is (checked every \(interval))")
                }
            }
        }
        state.withLock { s in
            s.started.formUnion(served)
            s.unknown = unknown
        }
        return served
    }

    /// The resource names an `APIResourceList` (a group version's discovery document) lists.
    static func servedResources(_ body: Data) -> Set<String> {
        struct List: Decodable {
            struct Entry: Decodable { var name: String }
            var resources: [Entry]?
        }
        let list = try? JSONDecoder().decode(List.self, from: body)
        return Set((list?.resources ?? []).map(\.name))
    }
}
