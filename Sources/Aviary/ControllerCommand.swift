import ArgumentParser
import Controller
import Foundation
import Kube
import Logging

/// `aviary controller`: runs the Rollout controller against a cluster.
struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "controller",
        abstract: "Run the Rollout controller.")

    @OptionGroup var cluster: ClusterOptions

    @Option(help: "Watch and manage Rollouts in this namespace only (default: all namespaces).")
    var namespace: String?

    @Option(help: "Rollouts reconciled at once.")
    var workers = 10

    @Option(help: "AnalysisRuns reconciled at once (apart from Rollouts).")
    var analysisWorkers = 10

    @Option(help: "Measurements in flight at once, across all AnalysisRuns (the bulkhead).")
    var measurementLimit = 30

    @Option(help: "Requests per second to the API server (a token bucket).")
    var qps: Double = 40

    @Option(help: "Requests allowed in a burst above --qps.")
    var burst = 80

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "aviary.controller")
        let client: KubeClient
        do {
            client = try cluster.client(qps: qps, burst: burst)
        } catch {
            FileHandle.standardError.write(Data("aviary controller: \(error)\n".utf8))
            throw ExitCode.failure
        }
        logger.info("aviary \(AviaryVersion.current) managing Rollouts on \(client.access.server)\(namespace.map { " in namespace \($0)" } ?? "")")
        let controller = RolloutController(client: client, options: .init(namespace: namespace, workers: workers, analysisWorkers: analysisWorkers, measurementLimit: measurementLimit), logger: logger)
        try await controller.run()
    }
}
