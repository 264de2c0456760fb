import Kube

/// Where the leader Lease lives, as the elector needs it: read, create,
/// replace, and word of a release. The API server in the controller; a
/// dictionary in tests, so the elector's rules run against a fake clock.
protocol LeaseStore: Sendable {
    /// The Lease, or nil when there is none. `timeout` bounds the request.
    func get(timeout: Duration?) async throws -> Lease?
    /// Creates it; someone else's create first is a 409 (`isAlreadyExists`).
    func create(_ lease: Lease) async throws
    /// Replaces it at the resourceVersion it carries; a stale one is a 409 (`isConflict`).
    func replace(_ lease: Lease, timeout: Duration?) async throws
    /// Calls `released` whenever the Lease is seen with no holder; returns when cancelled.
    func watchReleases(_ released: @escaping @Sendable () -> Void) async
}

/// The Lease through the API, with the elector's own request budget.
struct APILeaseStore: LeaseStore {
    let client: KubeClient
    let namespace: String
    let name: String

    private func bounded(_ timeout: Duration?) -> KubeClient {
        guard let timeout else { return client }
        var c = client
        c.requestTimeout = max(timeout, .milliseconds(100))
        return c
    }

    func get(timeout: Duration?) async throws -> Lease? {
        do {
            return try await bounded(timeout).get(.leases, name, namespace: namespace)
        } catch let e as KubeError where e.isNotFound {
            return nil
        }
    }

    func create(_ lease: Lease) async throws {
        let _: Lease = try await client.create(.leases, lease, namespace: namespace)
    }

    func replace(_ lease: Lease, timeout: Duration?) async throws {
        let _: Lease = try await bounded(timeout).replace(.leases, name, lease, namespace: namespace)
    }

    func watchReleases(_ released: @escaping @Sendable () -> Void) async {
        let reflector = Reflector<Lease>(client: client, resource: .leases, namespace: namespace, fieldSelector: "metadata.name=\(name)")
        do {
            for try await event in reflector {
                guard case .modified(let lease) = event, (lease.spec?.holderIdentity ?? "").isEmpty else { continue }
                released()
            }
        } catch {}
    }
}

/// The elector's time: `now` for its decisions (when a record was last seen
/// to change, when it last renewed) and `sleep` between attempts.
protocol ElectionClock: Sendable {
    var now: ContinuousClock.Instant { get }
    func sleep(for duration: Duration) async throws
}

struct SystemElectionClock: ElectionClock {
    var now: ContinuousClock.Instant { ContinuousClock.now }
    func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
