import ArgumentParser
import AviaryAPI
import Foundation
import Kube
import Plugin
import Rollouts

/// `diff NAME [--revision A] [--to B] [-o text|json]`: which images and which
/// keys of the tracked ConfigMaps and Secrets changed between two revisions.
/// It reads the revisions' config snapshots with the user's own credentials,
/// so it shows no more than they may read; a Secret's values are compared in
/// memory and never printed (names only).
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Show which images and configuration keys changed between two revisions of a Rollout (Secrets: key names only).")
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .shortAndLong) var namespace: String?
    @Argument(help: "The Rollout.") var name: String
    @Option(help: "The older revision (default: the one before --to).") var revision: Int?
    @Option(help: "The newer revision (default: the newest).") var to: Int?
    @Option(name: [.customShort("o"), .long], help: "text or json.") var output = "text"

    func validate() throws {
        guard ["text", "json"].contains(output) else { throw ValidationError("-o must be text or json, not \"\(output)\"") }
        for n in [revision, to].compactMap({ $0 }) where n < 0 {
            throw ValidationError("a revision is a number ≥ 0 (see `kubectl aviary get rollout \(name)`)")
        }
    }

    func run() async throws {
        let client = try cluster.client()
        let ns = namespace ?? client.access.namespace
        do {
            let diff = try await Self.diff(client: client, namespace: ns, name: name, from: revision, to: to)
            print(output == "json" ? diff.json() : ConfigDiffText.render(diff), terminator: "")
        } catch let error as DiffError {
            FileHandle.standardError.write(Data("aviary diff: \(error)\n".utf8))
            throw ExitCode.failure
        } catch let error as KubeError where error.isNotFound {
            FileHandle.standardError.write(Data("aviary diff: no rollout \(name) in namespace \(ns); `kubectl aviary list rollouts -n \(ns)` lists them (or pass -n NAMESPACE)\n".utf8))
            throw ExitCode.failure
        }
    }

    /// Reads the Rollout, its ReplicaSets and the two revisions' snapshots, and compares them.
    static func diff(client: KubeClient, namespace ns: String, name: String, from: Int?, to: Int?) async throws -> ConfigDiff {
        let rollout: Rollout = try await client.get(Rollout.resource, name, namespace: ns)
        let rs: ObjectList<ReplicaSet> = try await client.listAll(.replicaSets, namespace: ns, options: ListOptions(labelSelector: podTemplateHashLabel, limit: 500))
        let (old, new) = try pick(Revisions(of: rollout, among: rs.items), rollout: name, from: from, to: to)
        let oldRefs = ConfigTracking.snapshots(of: old.replicaSet), newRefs = ConfigTracking.snapshots(of: new.replicaSet)
        // Snapshots both revisions share are the same content (immutable, named by it): no need to read them.
        let shared = Set(oldRefs).intersection(newRefs)
        var read: [ConfigObjectRef: ConfigDiff.Snapshot] = [:]
        for ref in Set(oldRefs).union(newRefs).subtracting(shared).sorted().prefix(100) {
            read[ref] = await snapshot(client, ns, ref)
        }
        func side(_ p: (revision: Int, replicaSet: ReplicaSet), _ refs: [ConfigObjectRef]) -> ConfigDiff.Side {
            ConfigDiff.Side(revision: p.revision, replicaSet: p.replicaSet, snapshots: refs.map { read[$0] ?? ConfigDiff.Snapshot(ref: $0, error: "not read") })
        }
        return ConfigDiff.build(rollout: name, namespace: ns, from: side(old, oldRefs), to: side(new, newRefs))
    }

    /// One snapshot as the user may read it; a failure becomes a note, not an error.
    static func snapshot(_ client: KubeClient, _ ns: String, _ ref: ConfigObjectRef) async -> ConfigDiff.Snapshot {
        do {
            let object: JSONValue = try await client.get(ref.kind.resource, ref.name, namespace: ns)
            return ConfigDiff.Snapshot(ref: ref, object: object)
        } catch let error as KubeError where error.isForbidden {
            return ConfigDiff.Snapshot(ref: ref, error: "forbidden (your account may not get \(ref.kind.resource.plural) in \(ns))")
        } catch let error as KubeError where error.isNotFound {
            return ConfigDiff.Snapshot(ref: ref, error: "not found (deleted with its ReplicaSet, or by hand)")
        } catch {
            return ConfigDiff.Snapshot(ref: ref, error: "\(error)")
        }
    }

    /// The two revisions to compare: `to` (default: the newest) and `from`
    /// (default: the newest revision older than `to`).
    static func pick(_ revisions: Revisions, rollout: String, from: Int?, to: Int?) throws(DiffError)
        -> (old: (revision: Int, replicaSet: ReplicaSet), new: (revision: Int, replicaSet: ReplicaSet)) {
        let numbers = revisions.numbers
        guard let newest = numbers.last else { throw .noRevisions(rollout: rollout) }
        let b = to ?? newest
        guard let newRS = revisions.replicaSet(revision: b) else { throw .noSuchRevision(b, existing: numbers, rollout: rollout) }
        let a: Int
        if let from {
            a = from
        } else {
            guard let older = numbers.last(where: { $0 < b }) else { throw .nothingBefore(b, existing: numbers, rollout: rollout) }
            a = older
        }
        guard let oldRS = revisions.replicaSet(revision: a) else { throw .noSuchRevision(a, existing: numbers, rollout: rollout) }
        return ((a, oldRS), (b, newRS))
    }
}

/// Why there is no diff, and what to do.
enum DiffError: Error, CustomStringConvertible {
    case noRevisions(rollout: String)
    case noSuchRevision(Int, existing: [Int], rollout: String)
    case nothingBefore(Int, existing: [Int], rollout: String)

    var description: String {
        func list(_ existing: [Int]) -> String { existing.map(String.init).joined(separator: ", ") }
        switch self {
        case .noRevisions(let name):
            return "rollout \(name) has no ReplicaSets yet, so no revisions: is the controller running? (`kubectl aviary get rollout \(name)`)"
        case .noSuchRevision(let n, let existing, let name):
            return "rollout \(name) has no revision \(n); the revisions there are: \(list(existing)) (older ones are pruned by revisionHistoryLimit)"
        case .nothingBefore(let n, let existing, let name):
            return "rollout \(name) has no revision before \(n) to compare with (revisions: \(list(existing))); pass --revision N"
        }
    }
}
