import Foundation
import Kube
import Synchronization

/// The ReplicaSets created in a namespace from now on, as (owner, image), for
/// as long as the task runs. The watch is resumed from the last version seen
/// whenever the server ends it, so a long churn loses no creation; only the
/// fields the benchmark reads are decoded, so it keeps up with the cluster's
/// stream of ReplicaSet status updates.
final class ReplicaSetAdditions: Sendable {
    /// What the watch decodes of a ReplicaSet.
    struct Slim: Decodable, Sendable {
        struct Container: Decodable, Sendable { var image: String? }
        struct PodSpec: Decodable, Sendable { var containers: [Container]? }
        struct Template: Decodable, Sendable { var spec: PodSpec? }
        struct Spec: Decodable, Sendable { var template: Template? }
        var metadata: ObjectMeta
        var spec: Spec?
        var image: String? { spec?.template?.spec?.containers?.first?.image }
    }

    /// Watches resumed after the server ended one, and times a resume was
    /// refused (410: history compacted) and had to start from now.
    let resumes = Mutex(0), gaps = Mutex(0)

    /// - Parameter version: where to start, taken before the changes are made (`now`), so none is missed.
    func run(_ client: KubeClient, _ ns: String, from version: String?, _ added: @Sendable (_ owner: String, _ image: String) -> Void) async throws {
        var version = version
        while !Task.isCancelled {
            do {
                let stream: WatchStream<Slim> = try await client.watch(.replicaSets, namespace: ns,
                                                                        options: WatchOptions(resourceVersion: version, allowBookmarks: true))
                for try await event in stream {
                    switch event {
                    case .added(let rs):
                        version = rs.metadata.resourceVersion ?? version
                        if let owner = rs.metadata.ownerReferences?.first?.name, let image = rs.image { added(owner, image) }
                    case .modified(let rs), .deleted(let rs):
                        version = rs.metadata.resourceVersion ?? version
                    case .bookmark(let rv):
                        version = rv
                    case .undecodable:
                        break
                    }
                }
                resumes.withLock { $0 += 1 }
            } catch let e as KubeError where e.isGone {
                gaps.withLock { $0 += 1 }
                version = try await Self.now(client, ns)
            } catch is CancellationError {
                return
            } catch {
                if Task.isCancelled { return }
                resumes.withLock { $0 += 1 }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    static func now(_ client: KubeClient, _ ns: String) async throws -> String? {
        let list: ObjectList<Slim> = try await client.list(.replicaSets, namespace: ns, options: ListOptions(limit: 1))
        return list.metadata.resourceVersion
    }
}
