import ArgumentParser
import AviaryAPI
import Foundation
import Kube
import Plugin
import Rollouts

/// `get rollout NAME [--watch]`: the header and tree; `--watch` redraws in
/// place until interrupted (as Argo's does, so "watch in one terminal, set
/// the image in another" works on a settled Rollout), or until --timeout.
/// `status --watch` is the verb that exits when the rollout settles.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Show a Rollout: status, steps, images, replicas, and its ReplicaSets, pods and AnalysisRuns.")
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .shortAndLong) var namespace: String?
    @Argument(help: "rollout") var kind: String
    @Argument var name: String
    @Flag(name: .shortAndLong) var watch = false
    @Option(help: "Stop --watch after this long, e.g. 5m (default: watch until interrupted).") var timeout: String?
    @Flag(help: "No colours (colours appear only on a terminal anyway).") var noColor = false

    func run() async throws {
        guard ["rollout", "rollouts", "ro", "aro"].contains(kind) else { throw ValidationError("can get rollouts only") }
        let client = try cluster.client()
        let ns = namespace ?? client.access.namespace
        let color = !noColor && isatty(STDOUT_FILENO) == 1
        let deadline = try timeout.map { ContinuousClock.now + .seconds(try DurationText.seconds($0)) }
        var first = true
        while true {
            let input = try await Self.read(client, ns, name)
            let text = RolloutTree.render(input, color: color)
            // Redraw in place on a terminal: home the cursor and clear.
            if watch, !first, color { print("\u{1B}[H\u{1B}[2J", terminator: "") } else if watch, !first { print("") }
            print(text, terminator: "")
            first = false
            if !watch { return }
            if let deadline, ContinuousClock.now >= deadline { return }
            try await Task.sleep(for: .seconds(1))
        }
    }

    static func read(_ client: KubeClient, _ ns: String, _ name: String) async throws -> RolloutTree.Input {
        let r: Rollout = try await client.get(Rollout.resource, name, namespace: ns)
        let rs: ObjectList<ReplicaSet> = try await client.list(.replicaSets, namespace: ns, options: ListOptions(labelSelector: podTemplateHashLabel))
        let pods: ObjectList<Pod> = try await client.list(.pods, namespace: ns, options: ListOptions(labelSelector: podTemplateHashLabel))
        let runs: ObjectList<AnalysisRun> = try await client.list(AnalysisRun.resource, namespace: ns)
        // The controller's rule for what is the Rollout's, so get shows what it counts (adoption candidates included).
        let family = Ownership.family(of: r, replicaSets: rs.items, pods: pods.items, analysisRuns: runs.items)
        return RolloutTree.Input(rollout: r, replicaSets: family.replicaSets, pods: family.pods, runs: family.analysisRuns)
    }
}
