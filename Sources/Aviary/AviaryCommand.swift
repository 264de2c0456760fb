import ArgumentParser
import Foundation
import Kube

@main
struct AviaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aviary",
        abstract: "Progressive delivery for Kubernetes: canary and blue-green Rollouts judged by Prometheus.",
        version: AviaryVersion.current,
        subcommands: [ControllerCommand.self, Promote.self, Abort.self, Ack.self, Retry.self, Pause.self, Resume.self, Restart.self, StatusCommand.self,
                      GetCommand.self, ListCommand.self, ReportCommand.self, DiffCommand.self, DashboardCommand.self, SetCommand.self, Undo.self, Lint.self, PlanCommand.self, Convert.self, Check.self, Version.self]
    )
}

enum AviaryVersion {
    static let current = "0.1.0-dev"
}

/// Options every command that talks to a cluster shares.
struct ClusterOptions: ParsableArguments {
    @Option(help: "Path to a kubeconfig file (default: $KUBECONFIG, then ~/.kube/config; in a pod, the in-cluster config).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use (default: its current-context).")
    var context: String?

    @Flag(help: "Allow a kubeconfig whose server is plain http:// (refused by default: the token or certificate and every object would cross the network in clear).")
    var allowInsecureHTTP = false

    /// The cluster these options name (in a pod without --kubeconfig/--context: the in-cluster config).
    func access() throws -> ClusterAccess {
        try ClusterAccess.load(kubeconfig: kubeconfig, context: context, allowInsecureHTTP: allowInsecureHTTP)
    }

    func client(qps: Double = 20, burst: Int = 40) throws -> KubeClient {
        KubeClient(access: try access(), qps: qps, burst: burst)
    }
}

