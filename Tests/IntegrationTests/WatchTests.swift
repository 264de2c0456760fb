import Foundation
import Kube
import Testing

/// Watches against the real API server. Serialized because one test compacts
/// etcd, which would send the others' resumed watches a 410.
@Suite(.serialized) struct WatchTests {
    @Test func seesAddModifyDeleteInOrder() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("watch", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        let start: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: ns)
        let watch: WatchStream<ConfigMap> = try await client.watch(
            .configMaps, namespace: ns, options: WatchOptions(resourceVersion: start.metadata.resourceVersion, timeoutSeconds: 30))

        let _ = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "w"), data: ["v": "1"]), namespace: ns)
        let _: ConfigMap = try await client.patch(.configMaps, "w", namespace: ns, .merge(["data": ["v": "2"]]))
        try await client.delete(.configMaps, "w", namespace: ns)

        var seen: [String] = []
        for try await event in watch {
            switch event {
            case .added(let o): seen.append("added v=\(o.data?["v"] ?? "")")
            case .modified(let o): seen.append("modified v=\(o.data?["v"] ?? "")")
            case .deleted(let o): seen.append("deleted v=\(o.data?["v"] ?? "")")
            case .bookmark, .undecodable: continue
            }
            if seen.count == 3 { break }
        }
        #expect(seen == ["added v=1", "modified v=2", "deleted v=2"])
    }

    /// Writes objects one after another and returns each write's resourceVersion, in order.
    @Sendable func write(_ count: Int, in ns: String, client: KubeClient, pauseEvery: Int = .max, pause: Duration = .zero) async throws -> [String] {
        var versions: [String] = []
        for i in 0..<count {
            if i > 0, i % pauseEvery == 0 { try await Task.sleep(for: pause) }
            let created = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "o-\(i)"), data: ["n": "0"]), namespace: ns)
            versions.append(created.metadata.resourceVersion!)
            let modified: ConfigMap = try await client.patch(.configMaps, "o-\(i)", namespace: ns, .merge(["data": ["n": "1"]]))
            versions.append(modified.metadata.resourceVersion!)
        }
        return versions
    }

    /// Lists (the namespace is empty), then reads `expected` events while `writer`
    /// runs, recording each event's resourceVersion.
    func collect(_ reflector: Reflector<ConfigMap>, expected: Int,
                 while writer: @escaping @Sendable () async throws -> [String]) async throws -> (seen: [String], written: [String], connections: Int, lists: Int) {
        var it = reflector.makeAsyncIterator()
        guard case .replaced(let initial, _) = try await it.next() else { throw KubeError.decoding("no initial list") }
        #expect(initial.isEmpty)
        async let written = writer()
        var seen: [String] = []
        while seen.count < expected, let event = try await it.next() {
            switch event {
            case .replaced: Issue.record("an unexpected relist")
            case .undecodable(let u, _): Issue.record("an undecodable object: \(u.error)")
            case .added(let o), .modified(let o), .deleted(let o): seen.append(o.metadata.resourceVersion!)
            }
        }
        return (seen, try await written, it.watchConnections, it.lists)
    }

    @Test func resumesWhenTheServerClosesMidStream() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("resume", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        // The server ends every watch after one second; the writer runs for several.
        let reflector = Reflector<ConfigMap>(client: client, resource: .configMaps, namespace: ns, watchTimeout: 1...1)
        let result = try await collect(reflector, expected: 240) {
            try await write(120, in: ns, client: client, pauseEvery: 30, pause: .milliseconds(900))
        }
        #expect(result.seen == result.written, "every write seen exactly once, in order")
        #expect(result.connections >= 3)
        #expect(result.lists == 1)
    }

    @Test func resumesAfterADroppedConnection() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("drop", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        // The client drops a connection that is silent for a second (as it would a
        // half-open one); writes keep landing while it reconnects.
        let reflector = Reflector<ConfigMap>(client: client, resource: .configMaps, namespace: ns,
                                             watchTimeout: 60...60, idleTimeout: .seconds(1))
        let result = try await collect(reflector, expected: 120) {
            try await write(60, in: ns, client: client, pauseEvery: 15, pause: .milliseconds(2500))
        }
        #expect(result.seen == result.written, "every write seen exactly once, in order")
        #expect(result.connections >= 3)
        #expect(result.lists == 1)
    }

    @Test func relistsAfterCompactionMakesTheVersionTooOld() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("gone", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        let first = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "c"), data: ["n": "0"]), namespace: ns)
        var last = first
        for n in 1...3 { last = try await client.patch(.configMaps, "c", namespace: ns, .merge(["data": ["n": .string("\(n)")]])) }
        try await TestCluster.script("compact", last.metadata.resourceVersion!)

        // Resume from the first version, which etcd no longer has.
        let reflector = Reflector<ConfigMap>(client: client, resource: .configMaps, namespace: ns,
                                             resourceVersion: first.metadata.resourceVersion)
        var it = reflector.makeAsyncIterator()
        guard case .replaced(let items, _) = try await it.next() else {
            Issue.record("expected a relist after 410 Gone")
            return
        }
        #expect(items.map { $0.data?["n"] } == ["3"])
        let _: ConfigMap = try await client.patch(.configMaps, "c", namespace: ns, .merge(["data": ["n": "4"]]))
        guard case .modified(let cm) = try await it.next() else {
            Issue.record("expected the watch to continue after the relist")
            return
        }
        #expect(cm.data?["n"] == "4")
        #expect(it.lists == 1)
    }

    @Test func aSlowReaderPausesTheTransferInsteadOfBuffering() async throws {
        let client = try TestCluster.client()
        let ns = try await TestCluster.namespace("slow", client: client)
        defer { Task { await TestCluster.deleteNamespace(ns, client: client) } }
        let start: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: ns)
        let limit = 256 << 10
        let watch: WatchStream<ConfigMap> = try await client.watch(
            .configMaps, namespace: ns, options: WatchOptions(resourceVersion: start.metadata.resourceVersion, timeoutSeconds: 60),
            bufferLimit: limit)
        // About 8 MiB of events, 32 times the buffer, with nobody reading.
        let blob = String(repeating: "x", count: 100_000)
        for i in 0..<80 {
            let _ = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "big-\(i)"), data: ["blob": blob]), namespace: ns)
        }
        try await eventually("the transfer to pause") { watch.isPaused }
        #expect(watch.bufferedBytes <= limit)

        var count = 0
        for try await event in watch {
            if case .added(let cm) = event {
                #expect(cm.data?["blob"]?.count == 100_000)
                count += 1
                #expect(watch.bufferedBytes <= limit)
            }
            if count == 80 { break }
        }
        #expect(count == 80)
    }

    @Test func watchingAnUnknownResourceIsATypedNotFound() async throws {
        let client = try TestCluster.client()
        await #expect {
            let _: WatchStream<ConfigMap> = try await client.watch(Resource(group: "nope.example", version: "v1", plural: "things", namespaced: true),
                                                                 namespace: "default")
        } throws: { ($0 as? KubeError)?.isNotFound == true }
    }
}
