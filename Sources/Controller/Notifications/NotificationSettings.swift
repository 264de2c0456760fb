import Foundation
import Kube
import Logging
import Notifications
import Synchronization

/// The notification configuration, as the controller reads it: ConfigMap
/// `aviary-notification-configmap` and Secret `aviary-notification-secret`
/// in the controller's namespace, each watched by name (a field selector, so
/// a Role limited by resourceNames is enough), so an edit applies without a
/// restart. With self-service on, a Rollout's own namespace may hold the
/// same two objects; they are read when needed and kept for `selfServiceTTL`.
///
/// A namespace's configuration is parsed with that namespace's Secret only:
/// a `$key` in a tenant's ConfigMap can never reach the controller's Secret.
public final class NotificationSettings: Sendable {
    public let namespace: String
    public let selfService: Bool
    let client: KubeClient
    let configMaps: Informer<ConfigMap>
    let secrets: Informer<Secret>
    let logger: Logger
    let selfServiceTTL: Duration
    /// The parsed global configuration and the versions it was parsed from.
    private let parsed = Mutex<(versions: String, config: NotificationConfig)?>(nil)
    private let tenants = Mutex<[String: (at: ContinuousClock.Instant, config: NotificationConfig?)]>([:])

    public init(client: KubeClient, namespace: String, selfService: Bool = false, selfServiceTTL: Duration = .seconds(30),
                logger: Logger = Logger(label: "aviary.notifications")) {
        self.client = client
        self.namespace = namespace
        self.selfService = selfService
        self.selfServiceTTL = selfServiceTTL
        self.logger = logger
        configMaps = Informer(Reflector(client: client, resource: .configMaps, namespace: namespace,
                                        fieldSelector: "metadata.name=\(NotificationConfig.configMapName)"))
        secrets = Informer(Reflector(client: client, resource: .secrets, namespace: namespace,
                                     fieldSelector: "metadata.name=\(NotificationConfig.secretName)"))
    }

    /// Watches the two objects until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.configMaps.run() }
            group.addTask { await self.secrets.run() }
        }
    }

    public var hasSynced: Bool { configMaps.hasSynced && secrets.hasSynced }

    /// The configuration for Rollouts in `rolloutNamespace`: the controller's,
    /// with the namespace's own on top when self-service is on (its services,
    /// templates and triggers replace ones of the same name, for that namespace only).
    public func config(for rolloutNamespace: String?) async -> NotificationConfig {
        var config = global()
        if selfService, let ns = rolloutNamespace, ns != namespace, let own = await tenant(ns) {
            config.services.merge(own.services) { _, new in new }
            config.templates.merge(own.templates) { _, new in new }
            config.triggers.merge(own.triggers) { _, new in new }
            if !own.defaultTriggers.isEmpty { config.defaultTriggers = own.defaultTriggers }
            config.problems += own.problems.map { "\(ns)/\(NotificationConfig.configMapName): \($0)" }
        }
        return config
    }

    /// The controller namespace's configuration, parsed again only when one of the two objects changed.
    func global() -> NotificationConfig {
        let map = configMaps.get(namespace: namespace, name: NotificationConfig.configMapName)
        let secret = secrets.get(namespace: namespace, name: NotificationConfig.secretName)
        let versions = "\(map?.metadata.resourceVersion ?? "-")/\(secret?.metadata.resourceVersion ?? "-")"
        if let cached = parsed.withLock({ $0 }), cached.versions == versions { return cached.config }
        let config = NotificationConfig.parse(map?.data ?? [:], secret: Self.decoded(secret))
        for problem in config.problems { logger.warning("notification configuration \(namespace)/\(NotificationConfig.configMapName): \(problem)") }
        parsed.withLock { $0 = (versions, config) }
        return config
    }

    /// A tenant namespace's own configuration (self-service), fetched at most once per `selfServiceTTL`.
    func tenant(_ ns: String) async -> NotificationConfig? {
        let now = ContinuousClock.now
        if let hit = tenants.withLock({ $0[ns] }), now - hit.at < selfServiceTTL { return hit.config }
        var config: NotificationConfig?
        do {
            let map: ConfigMap = try await client.get(.configMaps, NotificationConfig.configMapName, namespace: ns)
            let secret: Secret? = try? await client.get(.secrets, NotificationConfig.secretName, namespace: ns)
            config = NotificationConfig.parse(map.data ?? [:], secret: Self.decoded(secret))
        } catch let e as KubeError where e.isNotFound {
            config = nil
        } catch {
            logger.warning("cannot read \(ns)/\(NotificationConfig.configMapName) (self-service notifications): \(error)")
            config = nil
        }
        tenants.withLock { cache in
            // Bounded: namespaces come and go.
            if cache.count > 10_000 { cache.removeAll() }
            cache[ns] = (now, config)
        }
        return config
    }

    /// A Secret's data, base64-decoded; a value that does not decode is left out.
    static func decoded(_ secret: Secret?) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in secret?.data ?? [:] {
            if let d = Data(base64Encoded: v) { out[k] = String(decoding: d, as: UTF8.self) }
        }
        return out
    }
}
