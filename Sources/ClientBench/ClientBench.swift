import ArgumentParser
import Foundation
import Kube

/// The client benchmark's worker; scripts/bench-client.sh runs it beside
/// kubectl and prints the figures side by side.
@main
struct ClientBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aviary-client-bench",
        abstract: "Measure the Kubernetes client: list/decode and watch throughput.",
        subcommands: [Setup.self, Touch.self, List.self, Watch.self])
}

struct Common: ParsableArguments {
    @Option var kubeconfig: String?
    @Option var namespace = "bench"

    func client() throws -> KubeClient {
        // No client-side rate limit: the benchmark measures the client, not a throttle.
        KubeClient(access: try ClusterAccess.load(kubeconfig: kubeconfig), qps: 0, burst: 0)
    }
}

/// Peak resident memory of this process, in KiB (VmHWM).
func peakRSSKiB() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
    return 0
}

func report(_ what: String, count: Int, since start: ContinuousClock.Instant) {
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    FileHandle.standardError.write(Data(String(format: "%@: %d in %.3f s in-process (%.0f/s), peak RSS %d KiB\n",
                                               what, count, seconds, Double(count) / seconds, peakRSSKiB()).utf8))
}

/// Creates `count` ConfigMaps and prints the resourceVersion from before, so a
/// watch can replay their creation from etcd's history.
struct Setup: AsyncParsableCommand {
    @OptionGroup var common: Common
    @Option var count = 5000

    func run() async throws {
        let client = try common.client()
        let ns = common.namespace
        do {
            let _: Metadata = try await client.create(.namespaces, Metadata(metadata: ObjectMeta(name: ns)))
        } catch let e as KubeError where e.isConflict {}
        let before: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: ns, options: ListOptions(limit: 1))
        let payload = String(repeating: "v", count: 256)
        try await forEachIndex(count) { i in
            let cm = ConfigMap(metadata: ObjectMeta(name: "cm-\(i)", labels: ["bench": "client", "index": "\(i)"]),
                               data: ["payload": payload, "index": "\(i)"])
            let _ = try await client.create(.configMaps, cm, namespace: ns)
        }
        print(before.metadata.resourceVersion ?? "")
    }
}

/// Updates every ConfigMap `rounds` times, as fast as the server takes it: the live event source.
struct Touch: AsyncParsableCommand {
    @OptionGroup var common: Common
    @Option var count = 5000
    @Option var rounds = 2

    func run() async throws {
        let client = try common.client()
        let start = ContinuousClock.now
        for round in 0..<rounds {
            try await forEachIndex(count) { i in
                let _: ConfigMap = try await client.patch(.configMaps, "cm-\(i)", namespace: common.namespace,
                                                          .merge(["data": ["round": .string("\(round)")]]))
            }
        }
        report("writes", count: count * rounds, since: start)
    }
}

/// Runs `body` for 0..<count on 32 concurrent workers.
func forEachIndex(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<32 {
            group.addTask {
                for i in stride(from: worker, to: count, by: 32) { try await body(i) }
            }
        }
        try await group.waitForAll()
    }
}

/// Lists and decodes every ConfigMap in the namespace, in pages of 500 (as kubectl does).
struct List: AsyncParsableCommand {
    @OptionGroup var common: Common
    @Flag(help: "Fetch the same pages through the same client without decoding them (the transfer alone).")
    var raw = false

    func run() async throws {
        let client = try common.client()
        let start = ContinuousClock.now
        if raw {
            // Only the continue token is read from each page (a byte scan, then one small decode).
            var query = [("limit", "500")], bytes = 0, pages = 0
            while true {
                let page = try await client.send("GET", Resource.configMaps.path(namespace: common.namespace), query: query)
                bytes += page.body.count
                pages += 1
                guard let next = JSONScan.firstMember("metadata", of: page.body, as: ListMeta.self)?.continue, !next.isEmpty else { break }
                query = [("limit", "500"), ("continue", next)]
            }
            report("list (raw: \(pages) pages, \(bytes) bytes)", count: 0, since: start)
            return
        }
        let all: ObjectList<ConfigMap> = try await client.listAll(.configMaps, namespace: common.namespace, options: ListOptions(limit: 500))
        report("list", count: all.items.count, since: start)
        print(all.items.count)
    }
}

/// Watches and decodes events until `events` have arrived: from an old
/// resourceVersion (a replay from etcd), or, without one, from now on (as
/// `kubectl get --watch-only` does: it lists to learn the current version).
struct Watch: AsyncParsableCommand {
    @OptionGroup var common: Common
    @Option var resourceVersion: String?
    @Option var events = 10000
    @Option(help: "Create this file once the watch sees the ConfigMap named probe.")
    var readyFile: String?

    func run() async throws {
        let client = try common.client()
        let start = ContinuousClock.now
        var resourceVersion = self.resourceVersion
        if resourceVersion == nil {
            let now: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: common.namespace, options: ListOptions(limit: 1))
            resourceVersion = now.metadata.resourceVersion
        }
        let stream: WatchStream<ConfigMap> = try await client.watch(
            .configMaps, namespace: common.namespace,
            options: WatchOptions(resourceVersion: resourceVersion, allowBookmarks: false, timeoutSeconds: 120))
        var n = 0
        for try await event in stream {
            guard let name = event.object?.metadata.name else { continue }
            // The script pokes "probe" until the watcher shows it is watching; that is not a counted event.
            if name == "probe" {
                if let readyFile { _ = FileManager.default.createFile(atPath: readyFile, contents: nil) }
                continue
            }
            n += 1
            if n == events { break }
        }
        report("watch", count: n, since: start)
        print(n)
    }
}
