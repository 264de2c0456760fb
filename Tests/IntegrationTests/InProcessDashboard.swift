import Dashboard
import Kube
import Logging
import TestSupport

/// `aviary dashboard`'s server in-process on a free port, its caches fed
/// from the local control plane (nil namespace: all of them). The tests that
/// need the server start it here, with the options their mode needs.
struct InProcessDashboard: Sendable {
    let port: Int
    let cache: DashboardCache
    let feed: ChangeFeed
    let task: Task<Void, Never>

    func stop() { task.cancel() }

    static func start(client: KubeClient, namespace: String?,
                      options: DashboardServer.Options = .init(address: "127.0.0.1", port: 0)) async throws -> InProcessDashboard {
        let feed = ChangeFeed()
        let logger = Logger(label: "dashboard-test")
        let cache = DashboardCache(client: client, namespace: namespace, feed: feed, logger: logger)
        let server = DashboardServer(options: options, source: cache, feed: feed, logger: logger)
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await cache.run() }
                group.addTask { try? await server.run() }
            }
        }
        try await cache.waitForSync()
        for _ in 0..<500 where server.port == nil { try await Task.sleep(for: .milliseconds(10)) }
        guard let port = server.port else {
            task.cancel()
            throw WebDriver.Failure("the dashboard server did not start listening within 5 s")
        }
        return InProcessDashboard(port: Int(port), cache: cache, feed: feed, task: task)
    }
}
