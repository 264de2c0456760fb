import ArgumentParser
import AviaryAPI
import Foundation
import Kube
import Plugin
import Rollouts

/// `list rollouts`: one line per Rollout.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List Rollouts: NAME, STRATEGY, STATUS, STEP, SET-WEIGHT, READY, DESIRED, UP-TO-DATE, AVAILABLE.")
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .shortAndLong) var namespace: String?
    @Flag(name: [.customShort("A"), .long], help: "Every namespace.") var allNamespaces = false
    @Argument(help: "What to list: rollouts.") var kind = "rollouts"

    func run() async throws {
        guard ["rollouts", "rollout", "ro", "aro"].contains(kind) else { throw ValidationError("can list rollouts only") }
        let client = try cluster.client()
        let ns = allNamespaces ? nil : (namespace ?? client.access.namespace)
        let list: ObjectList<Rollout> = try await client.listAll(Rollout.resource, namespace: ns, options: ListOptions(limit: 500))
        print(RolloutList.render(list.items, withNamespace: allNamespaces), terminator: "")
    }
}

/// `set image CONTAINER=IMAGE`: change one container's image in the pod template.
struct SetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Change a Rollout's template.", subcommands: [SetImage.self])
}

struct SetImage: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "image", abstract: "Set a container's image: set image NAME CONTAINER=IMAGE, or -l SELECTOR CONTAINER=IMAGE.")
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .shortAndLong) var namespace: String?
    @Option(name: [.customShort("l"), .long], help: "Every Rollout this label selector matches.") var selector: String?
    @Argument(help: "NAME CONTAINER=IMAGE, or CONTAINER=IMAGE with -l.") var arguments: [String]

    func run() async throws {
        let expected = selector == nil ? 2 : 1
        guard arguments.count == expected, let assignment = arguments.last else {
            throw ValidationError(selector == nil ? "expected NAME CONTAINER=IMAGE" : "expected CONTAINER=IMAGE with -l")
        }
        let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { throw ValidationError("expected CONTAINER=IMAGE, got \"\(assignment)\"") }
        var flags: [String] = selector.map { ["-l", $0] } ?? [arguments[0]]
        if let namespace { flags += ["-n", namespace] }
        if let kubeconfig = cluster.kubeconfig { flags += ["--kubeconfig", kubeconfig] }
        if let context = cluster.context { flags += ["--context", context] }
        let targets = try Targets.parse(flags)
        try await perform(.setImage(container: parts[0], image: parts[1]), on: targets.resolve(), selector: selector)
    }
}

/// `undo [--to-revision N]`: the template of that revision's ReplicaSet (default: the one before the current).
struct Undo: RolloutAction {
    static let configuration = CommandConfiguration(abstract: "Roll back to a previous revision's template.")
    @OptionGroup var targets: Targets
    @Option(help: "The revision to go back to (default: the previous one).") var toRevision: Int?
    var action: UserAction { .undo(toRevision: toRevision) }
}

/// `convert -f FILE`: an Argo Rollouts manifest as aviary's, everything else untouched.
struct Convert: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rewrite Argo Rollouts manifests to aviary.dev/v1alpha1 (comments and layout kept).")
    @Option(name: .shortAndLong) var file: String

    func run() throws {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read \(file)") }
        let (converted, unsupported) = Self.convert(text)
        for kind in unsupported {
            FileHandle.standardError.write(Data("\(file): \(kind) has no aviary equivalent; left as it was\n".utf8))
        }
        print(converted, terminator: text.hasSuffix("\n") ? "" : "\n")
    }

    static let kinds: Set = ["Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun"]

    /// Per document: `apiVersion: argoproj.io/v1alpha1` becomes aviary's for the kinds aviary has.
    static func convert(_ text: String) -> (String, [String]) {
        var unsupported: [String] = []
        let docs = text.components(separatedBy: "\n---")
        let out = docs.map { doc -> String in
            let kind = doc.split(separator: "\n").first { $0.hasPrefix("kind:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) } ?? ""
            guard doc.contains("apiVersion: argoproj.io/v1alpha1") else { return doc }
            guard kinds.contains(kind) else {
                unsupported.append(kind)
                return doc
            }
            return doc.replacingOccurrences(of: "apiVersion: argoproj.io/v1alpha1", with: "apiVersion: aviary.dev/v1alpha1")
        }
        return (out.joined(separator: "\n---"), unsupported)
    }
}
