import ArgumentParser
import Dashboard
import Foundation
import Kube
import Logging

/// `dashboard`: a read-only web page of the Rollouts this kubeconfig can
/// read, served from here (one set of watches, whatever the number of
/// pages open). Loopback unless told otherwise, and then only with a token
/// or an explicit opt-out.
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Serve a read-only web dashboard of Rollouts (live, from this kubeconfig's view), on 127.0.0.1:3100 by default.")
    @OptionGroup var cluster: ClusterOptions
    @Option(name: .shortAndLong, help: "Only this namespace (default: the context's).") var namespace: String?
    @Flag(name: [.customShort("A"), .long], help: "Every namespace this kubeconfig may list.") var allNamespaces = false
    @Option(help: "The address to listen on: an IP address or localhost. Anything but loopback needs --token-file or --insecure-no-auth.")
    var address = "127.0.0.1"
    @Option(help: "The port to listen on (0: any free port).") var port: UInt16 = 3100
    @Option(help: "A file whose first line is a token (16+ characters) the browser must present: open /login?token=… once, or send Authorization: Bearer.")
    var tokenFile: String?
    @Flag(help: "Serve a non-loopback address without authentication: anyone who reaches it sees every Rollout this kubeconfig can read.")
    var insecureNoAuth = false
    @Flag(help: ArgumentHelp("Run as a shared dashboard in the cluster (deploy/dashboard): watch every namespace as this pod's ServiceAccount, and show each viewer only what their own Kubernetes token may read (TokenReview, SubjectAccessReview).",
                             discussion: "Every request needs the viewer's bearer token: Authorization: Bearer, or the cookie /login?token=… sets."))
    var inCluster = false
    @Flag(help: ArgumentHelp("Show action buttons (promote, promote full, abort, retry, undo, restart, set image) and accept them, sent as this kubeconfig's user.",
                             discussion: "Each is confirmed in the page and carries the page's CSRF token; without this flag the dashboard refuses every write."))
    var allowActions = false

    func validate() throws {
        if allNamespaces, namespace != nil { throw ValidationError("-n and -A exclude each other: -n NAMESPACE for one, -A for all") }
        if inCluster, tokenFile != nil || insecureNoAuth {
            throw ValidationError("--in-cluster checks each viewer's own Kubernetes token, so it takes neither --token-file nor --insecure-no-auth: drop them")
        }
        if allowActions, insecureNoAuth, !BindRule.isLoopback(address) {
            throw ValidationError("--allow-actions with --insecure-no-auth on \(address) would let anyone who reaches it act as this kubeconfig's user: "
                                  + "use --token-file FILE instead, or drop --allow-actions")
        }
        do { try BindRule.check(address: address, hasToken: tokenFile != nil || inCluster, insecureNoAuth: insecureNoAuth) } catch {
            throw ValidationError(error.description)
        }
    }

    func run() async throws {
        var logger = Logger(label: "aviary.dashboard")
        logger.logLevel = .warning
        let token: String?
        do { token = try tokenFile.map { path throws(BindRule.Refused) in try BindRule.token(file: path) } } catch {
            throw ValidationError(error.description)
        }
        let client = try cluster.client()
        // In-cluster: every namespace unless -n says one (then the ServiceAccount needs only that namespace's rights).
        let ns = allNamespaces || (inCluster && namespace == nil) ? nil : (namespace ?? client.access.namespace)
        let feed = ChangeFeed()
        let cache = DashboardCache(client: client, namespace: ns, feed: feed, logger: logger)
        var options = DashboardServer.Options(address: address, port: port, token: token)
        // Reviews have a budget of their own, so a burst of viewers never queues behind the watches (or the other way round).
        if inCluster { options.viewers = ViewerGate(client: client.withOwnBudget(qps: 50, burst: 100, retry: client.retry, requestTimeout: .seconds(10))) }
        // Locally, actions go out as this kubeconfig's own user; in the cluster, as the reviewed viewer (impersonated:
        // the ServiceAccount needs deploy/dashboard/with-actions).
        if allowActions {
            let local: DashboardActions.Identity = { _ in client }
            options.actions = DashboardActions(identity: options.viewers?.actionIdentity ?? local)
        }
        let server = DashboardServer(options: options, source: cache, feed: feed, logger: logger)
        let shown = address.contains(":") && !address.hasPrefix("[") ? "[\(address)]" : address
        let scope = ns.map { "namespace \($0)" } ?? "every namespace"
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await cache.run() }
            group.addTask {
                // The URL once the Rollouts are listed (the page would show none before), or after 10 s with a warning.
                for _ in 0..<100 where !cache.hasSynced { try await Task.sleep(for: .milliseconds(100)) }
                if !cache.hasSynced {
                    FileHandle.standardError.write(Data("aviary dashboard: the Rollouts could not be listed yet (is the API server reachable, and may this kubeconfig list rollouts.aviary.dev in \(scope)?); serving anyway\n".utf8))
                }
                try await server.run { bound in
                    let login = inCluster ? "login?token=…  (each viewer's own Kubernetes token)" : token == nil ? "" : "login?token=…  (the token in \(tokenFile ?? ""))"
                    print("Aviary dashboard for \(scope): http://\(shown):\(bound)/\(login)")
                    print(!allowActions ? "Read-only; Ctrl-C stops it."
                          : inCluster ? "Actions allowed, each as the viewer who asks (impersonated); Ctrl-C stops it."
                          : "Actions allowed, as this kubeconfig's user; Ctrl-C stops it.")
                    fflush(nil)  // every output stream: a test or a script reads the URL from a pipe
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
