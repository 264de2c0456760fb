import ArgumentParser
import AviaryAPI
import Foundation
import Kube
import Controller
import Rollouts

/// Which Rollouts an action acts on: one by name, or every one a label
/// selector matches (`-l train=release-42` promotes a release train at once).
struct Targets: ParsableArguments {
    @OptionGroup var cluster: ClusterOptions

    @Option(name: .shortAndLong, help: "Namespace (default: the kubeconfig context's).")
    var namespace: String?

    @Option(name: [.customShort("l"), .long], help: "Act on every Rollout this label selector matches.")
    var selector: String?

    @Argument(help: "The Rollout's name.")
    var name: String?

    func validate() throws {
        guard (name == nil) != (selector == nil) else { throw ValidationError("give a Rollout's name or -l SELECTOR, not both or neither") }
    }

    func resolve() async throws -> (KubeClient, String, [String]) {
        let client = try cluster.client()
        let ns = namespace ?? client.access.namespace
        if let name { return (client, ns, [name]) }
        let list: ObjectList<Rollout> = try await client.list(Rollout.resource, namespace: ns, options: ListOptions(labelSelector: selector))
        return (client, ns, list.items.compactMap(\.metadata.name).sorted())
    }
}

/// One user action on each target. What it writes is `UserAction`'s, shared
/// with the tests, so the CLI holds no patch of its own.
protocol RolloutAction: AsyncParsableCommand {
    var targets: Targets { get }
    var action: UserAction { get }
}

extension RolloutAction {
    func run() async throws { try await perform(action, on: targets.resolve(), selector: targets.selector) }
}

/// Sends `action`'s patches to each named Rollout and says what was done.
/// One Rollout failing does not stop the others (a release train is acted
/// on as a whole); any failure makes the exit status 1.
func perform(_ action: UserAction, on resolved: (KubeClient, String, [String]), selector: String?) async throws {
    let (client, ns, names) = resolved
    guard !names.isEmpty else { throw ValidationError("no Rollout matches \(selector ?? "")") }
    var failed = false
    for name in names {
        do {
            let done = try await client.perform(action, on: name, namespace: ns)
            print("rollout '\(name)' \(done.outcome)")
        } catch {
            FileHandle.standardError.write(Data("rollout '\(name)': \(error)\n".utf8))
            failed = true
        }
    }
    if failed { throw ExitCode.failure }
}

struct Promote: RolloutAction {
    static let configuration = CommandConfiguration(abstract: "End the current pause (or Inconclusive pause); --full skips the remaining steps.")
    @OptionGroup var targets: Targets
    @Flag(help: "Skip every remaining step (and, for blue-green, go straight to the cutover).") var full = false
    var action: UserAction { full ? .promoteFull : .promote }
}

struct Abort: RolloutAction {
    static let configuration = CommandConfiguration(
        abstract: "Abort the update: traffic back to stable (at once, or step by step under abortStrategy.gradual).",
        discussion: "Aborting a Rollout that is already rolling back gradually is the same as --now.")
    @OptionGroup var targets: Targets
    @Flag(help: "Skip a gradual rollback (abortStrategy.gradual) to its end: all traffic to stable at once.") var now = false
    var action: UserAction { now ? .abortNow(at: KubeTime.now()) : .abort }
}

struct Retry: RolloutAction {
    static let configuration = CommandConfiguration(abstract: "Retry an aborted update from its first step.")
    @OptionGroup var targets: Targets
    var action: UserAction { .retry }
}

struct Ack: RolloutAction {
    static let configuration = CommandConfiguration(
        abstract: "Take over a failed analysis that is holding the update (a metric's onFailure: {notify, thenAbortAfter}).",
        discussion: "The update then holds past the grace period instead of aborting, until you promote or abort it.")
    @OptionGroup var targets: Targets
    var action: UserAction { .ack }
}

struct Pause: RolloutAction {
    static let configuration = CommandConfiguration(abstract: "Hold the steps (spec.paused).")
    @OptionGroup var targets: Targets
    var action: UserAction { .pause }
}

struct Resume: RolloutAction {
    static let configuration = CommandConfiguration(abstract: "Let the steps go on (spec.paused false).")
    @OptionGroup var targets: Targets
    var action: UserAction { .resume }
}

struct Restart: RolloutAction {
    static let configuration = CommandConfiguration(abstract: "Recreate the stable pods, a few at a time (spec.restartAt).")
    @OptionGroup var targets: Targets
    var action: UserAction { .restart(at: KubeTime.now()) }
}

/// `status NAME [--watch] [--timeout]`, for CI pipelines: exit 0 when Healthy,
/// 1 when Degraded or aborted, 2 when not settled by the timeout.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Exit 0 when Healthy, 1 when Degraded or aborted, 2 on timeout.")
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .shortAndLong) var namespace: String?
    @Argument var name: String
    @Flag(name: .shortAndLong, help: "Wait until the rollout settles.") var watch = false
    @Option(help: "How long --watch waits, e.g. 5m.") var timeout = "10m"

    func run() async throws {
        let client = try cluster.client()
        let ns = namespace ?? client.access.namespace
        let deadline = ContinuousClock.now + .seconds(watch ? try DurationText.seconds(timeout) : 0)
        var last = ""
        while true {
            let r: Rollout = try await client.get(Rollout.resource, name, namespace: ns)
            let observed = r.status?.observedGeneration == r.metadata.generation
            let phase = observed ? (r.status?.phase?.rawValue ?? "Progressing") : "Progressing"
            let line = "\(phase)\(r.status?.message.map { " - \($0)" } ?? "")"
            if line != last { print(line) }
            last = line
            if observed, r.status?.phase == .Healthy { return }
            if observed, r.status?.phase == .Degraded || r.status?.abort == true { throw ExitCode(1) }
            if ContinuousClock.now >= deadline { throw ExitCode(2) }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}
