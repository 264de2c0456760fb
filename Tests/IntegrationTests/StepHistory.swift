import AviaryAPI
import Kube

/// Every status a Rollout passes through, from a watch on it: the watch
/// delivers each write in order, so this is the status history, not samples
/// of it and not the best-effort events. What it tells: the step index of
/// one update never goes back, so no step transition happens twice, even
/// across a controller killed or replaced mid-update.
actor StepHistory {
    struct Entry: Sendable {
        var podHash: String?
        var step: Int?
    }

    let client: KubeClient
    let namespace: String
    let name: String
    private(set) var entries: [Entry] = []
    private var task: Task<Void, Never>?

    init(client: KubeClient, namespace: String, name: String) {
        self.client = client
        self.namespace = namespace
        self.name = name
    }

    /// Starts watching (a list first, so it begins from the current status).
    func start() {
        let reflector = Reflector<Rollout>(client: client, resource: Rollout.resource, namespace: namespace, fieldSelector: "metadata.name=\(name)")
        task = Task { [weak self] in
            do {
                for try await event in reflector {
                    switch event {
                    case .replaced(let items, _): for r in items { await self?.record(r) }
                    case .added(let r), .modified(let r): await self?.record(r)
                    case .deleted, .undecodable: break
                    }
                }
            } catch {}
        }
    }

    private func record(_ r: Rollout) {
        let entry = Entry(podHash: r.status?.currentPodHash, step: r.status?.currentStepIndex)
        if let last = entries.last, last.podHash == entry.podHash, last.step == entry.step { return }
        entries.append(entry)
    }

    func stop() { task?.cancel() }

    /// The step indices the update to `podHash` went through, each change once.
    func steps(of podHash: String?) -> [Int] {
        entries.filter { $0.podHash == podHash }.compactMap(\.step).reduce(into: []) { if $0.last != $1 { $0.append($1) } }
    }
}
