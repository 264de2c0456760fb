import ArgumentParser
import AviaryAPI
import Controller
import Foundation
import Kube
import Logging
import Metrics
import Prometheus
import Runtime
import ServiceLifecycle

/// `aviary controller`: runs the Rollout controller and the AnalysisRun runner
/// as a service: leader election, /healthz and /readyz, /metrics, JSON logs,
/// graceful shutdown on SIGTERM. Every flag has an environment twin
/// (`--workers` ↔ `AVIARY_WORKERS`), for a Deployment's `env`.
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run the Rollout controller.")

    static let env = ProcessInfo.processInfo.environment

    @OptionGroup var cluster: ClusterOptions

    @Option(help: "Watch and manage Rollouts in this namespace only (default: all namespaces). Env: AVIARY_NAMESPACE.")
    var namespace = env["AVIARY_NAMESPACE"] ?? ""

    @Option(help: "Handle only Rollouts labelled aviary.dev/instance-id=ID (default: only unlabelled ones). Env: AVIARY_INSTANCE_ID.")
    var instanceId = env["AVIARY_INSTANCE_ID"] ?? ""

    @Option(help: "Rollouts reconciled at once. Env: AVIARY_WORKERS.")
    var workers = Int(env["AVIARY_WORKERS"] ?? "") ?? 50

    @Option(help: "AnalysisRuns reconciled at once (apart from Rollouts). Env: AVIARY_ANALYSIS_WORKERS.")
    var analysisWorkers = Int(env["AVIARY_ANALYSIS_WORKERS"] ?? "") ?? 10

    @Option(help: "Measurements in flight at once, across all AnalysisRuns (the bulkhead). Env: AVIARY_MEASUREMENT_LIMIT.")
    var measurementLimit = Int(env["AVIARY_MEASUREMENT_LIMIT"] ?? "") ?? 30

    @Option(help: ArgumentHelp(
        "Where analysis providers (prometheus, web) may send requests: host names (prometheus.monitoring.svc), domains (*.monitoring.svc) and networks (10.0.0.0/8, fd00::/8), comma-separated or repeated. Default: anywhere. Env: AVIARY_PROVIDER_ALLOW.",
        valueName: "list"))
    var providerAllow: [String] = (env["AVIARY_PROVIDER_ALLOW"] ?? "").split(separator: ",").map(String.init)

    @Option(help: "The largest provider answer kept, in bytes; a larger one is an Error measurement. Env: AVIARY_PROVIDER_MAX_RESPONSE_BYTES.")
    var providerMaxResponseBytes = Int(env["AVIARY_PROVIDER_MAX_RESPONSE_BYTES"] ?? "") ?? 1 << 20

    @Option(help: "Requests per second to the API server (a token bucket). Env: AVIARY_QPS.")
    var qps = Double(env["AVIARY_QPS"] ?? "") ?? 40

    @Option(help: "Requests allowed in a burst above --qps. Env: AVIARY_BURST.")
    var burst = Int(env["AVIARY_BURST"] ?? "") ?? 80

    @Option(help: "Look at every Rollout again this often, e.g. 15m; 0 turns it off. Env: AVIARY_RESYNC.")
    var resync = env["AVIARY_RESYNC"] ?? "15m"

    @Option(help: "Elect a leader through a Lease; only the leader reconciles (true|false). Env: AVIARY_LEADER_ELECT.")
    var leaderElect = (env["AVIARY_LEADER_ELECT"] ?? "true") != "false"

    @Option(help: "Namespace of the leader Lease (default: --namespace, $POD_NAMESPACE, the pod's namespace, or default). Env: AVIARY_LEADER_ELECTION_NAMESPACE.")
    var leaderElectionNamespace = env["AVIARY_LEADER_ELECTION_NAMESPACE"] ?? ""

    @Option(help: "Namespace of aviary-notification-configmap and aviary-notification-secret (default: the leader Lease's namespace, i.e. the controller's own). Env: AVIARY_NOTIFICATIONS_NAMESPACE.")
    var notificationsNamespace = env["AVIARY_NOTIFICATIONS_NAMESPACE"] ?? ""

    @Option(help: "Also honour aviary-notification-configmap and aviary-notification-secret in each Rollout's own namespace (true|false), as Argo's self-service notifications. Env: AVIARY_SELF_SERVICE_NOTIFICATIONS.")
    var selfServiceNotifications = (env["AVIARY_SELF_SERVICE_NOTIFICATIONS"] ?? "false") == "true"

    @Option(help: "Snapshot the ConfigMaps and Secrets of Rollouts annotated aviary.dev/config-tracking: \"true\", so configuration rolls out and back with each revision (true|false). Needs list/watch/create/delete on configmaps and secrets (deploy/config-tracking). Env: AVIARY_CONFIG_TRACKING.")
    var configTracking = (env["AVIARY_CONFIG_TRACKING"] ?? "false") == "true"

    /// Unset options are empty strings (so their environment twins can be their defaults).
    static func set(_ value: String) -> String? { value.isEmpty ? nil : value }

    @Option(help: "Serve /metrics here, e.g. :8090 or 127.0.0.1:8090; port 0 picks a free one. Env: AVIARY_METRICS_ADDR.")
    var metricsAddr = env["AVIARY_METRICS_ADDR"] ?? ":8090"

    @Option(help: "Serve /healthz and /readyz here. Env: AVIARY_HEALTH_ADDR.")
    var healthAddr = env["AVIARY_HEALTH_ADDR"] ?? ":8080"

    @Option(help: "json (one object per line) or text. Env: AVIARY_LOG_FORMAT.")
    var logFormat = env["AVIARY_LOG_FORMAT"] ?? "json"

    @Option(help: "trace, debug, info, notice, warning, error or critical. Env: AVIARY_LOG_LEVEL.")
    var logLevel = env["AVIARY_LOG_LEVEL"] ?? "info"

    func validate() throws {
        guard ["json", "text"].contains(logFormat) else { throw ValidationError("--log-format: \"\(logFormat)\" is not json or text") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level: \"\(logLevel)\" is not a level") }
        do { _ = try DurationText.seconds(resync) } catch { throw ValidationError("--resync: \(error)") }
        do { _ = try providerPolicy() } catch { throw ValidationError("--provider-allow: \(error)") }
        for (flag, value) in [("--workers", workers), ("--analysis-workers", analysisWorkers)] where !(1...1000).contains(value) {
            throw ValidationError("\(flag): \(value) is not between 1 and 1000")
        }
        guard (1...(1 << 30)).contains(providerMaxResponseBytes) else {
            throw ValidationError("--provider-max-response-bytes: \(providerMaxResponseBytes) is not between 1 and 1073741824")
        }
        for (flag, value) in [("--metrics-addr", metricsAddr), ("--health-addr", healthAddr)] {
            do { _ = try Endpoint.Address(parsing: value) } catch { throw ValidationError("\(flag): \(error)") }
        }
    }

    func run() async throws {
        MemoryTuning.tune(environment: ProcessInfo.processInfo.environment)
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let json = logFormat == "json"
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler = json ? JSONLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "aviary.controller")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        let client: KubeClient
        do {
            client = KubeClient(access: try cluster.access(), qps: qps, burst: burst,
                                observer: { RolloutController.recordAPIRequest($0) })
        } catch {
            FileHandle.standardError.write(Data("aviary controller: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let namespace = Self.set(namespace), instanceId = Self.set(instanceId)
        logger.info("aviary \(AviaryVersion.current) managing Rollouts on \(client.access.server)\(namespace.map { " in namespace \($0)" } ?? "")")
        let controller = RolloutController(client: client, options: .init(
            namespace: namespace, workers: workers, analysisWorkers: analysisWorkers, measurementLimit: measurementLimit,
            instanceID: instanceId, resync: try DurationText.seconds(resync), providerAllow: try providerPolicy(),
            providerMaxResponseBytes: providerMaxResponseBytes,
            notificationsNamespace: Self.set(notificationsNamespace) ?? leaseNamespace(namespace),
            selfServiceNotifications: selfServiceNotifications, configTracking: configTracking), logger: logger)
        let elector = leaderElect ? LeaderElector(client: client, config: .init(
            namespace: leaseNamespace(namespace), name: instanceId.map { "aviary-controller-\($0)" } ?? "aviary-controller",
            identity: "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.prefix(8).lowercased())",
            version: AviaryVersion.current), logger: logger) : nil

        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: Endpoint.health(address: try .init(parsing: healthAddr), controller: controller, logger: logger)),
                .init(service: Endpoint.metrics(address: try .init(parsing: metricsAddr), registry: registry, controller: controller, logger: logger)),
                .init(service: SideEffectsService(controller: controller, logger: logger)),  // before the controller: stops after it, flushing events
                .init(service: ControllerService(controller: controller, elector: elector, logger: logger)),
                .init(service: MemoryTrimService()),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }

    /// --provider-allow as a policy; nil when the list is empty (everything allowed).
    func providerPolicy() throws -> AddressPolicy? {
        let policy = try AddressPolicy(parsing: providerAllow)
        return policy.rules.isEmpty ? nil : policy
    }

    /// --leader-election-namespace, else --namespace, else $POD_NAMESPACE, else the pod's namespace file, else default.
    func leaseNamespace(_ namespace: String?) -> String {
        if let n = Self.set(leaderElectionNamespace) ?? namespace ?? Self.env["POD_NAMESPACE"] { return n }
        let dir = Self.env["AVIARY_SERVICEACCOUNT_DIR"] ?? "/var/run/secrets/kubernetes.io/serviceaccount"
        if let n = try? String(contentsOfFile: dir + "/namespace", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !n.isEmpty {
            return n
        }
        return "default"
    }
}
