/// deploy/install.yaml's objects are cluster-wide and named: DeployE2ETests
/// applies them for real while InstallManifestTests dry-runs them, and a
/// dry-run create that races the real create is refused (AlreadyExists). The
/// two take turns through this lock; nothing else waits on it.
actor InstallLock {
    static let shared = InstallLock()
    private var held = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        await acquire()
        defer { release() }
        return try await body()
    }

    private func acquire() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if waiting.isEmpty {
            held = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
