import ArgumentParser
import Foundation
import Kube

/// A smoke check of the client against a real API server: reach it, read,
/// write, watch, and clean up. Exits non-zero with one clear line on failure.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that aviary can reach and use the cluster (read, write, watch, delete).")

    @OptionGroup var cluster: ClusterOptions

    @Option(help: "Namespace to write a scratch ConfigMap in.")
    var namespace = "default"

    func run() async throws {
        do {
            try await check()
        } catch {
            FileHandle.standardError.write(Data("aviary check: \(error)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func check() async throws {
        let client = try cluster.client()
        print("server     \(client.access.server)  (\(client.access.source))")
        let version = try await client.send("GET", "/version")
        let info = try JSONDecoder().decode([String: String].self, from: version.body)
        print("version    \(info["gitVersion"] ?? "?")")
        let namespaces: ObjectList<Metadata> = try await client.listAll(.namespaces)
        print("namespaces \(namespaces.items.compactMap(\.metadata.name).joined(separator: ", "))")

        let name = "aviary-check-\(UInt32.random(in: 0...UInt32.max))"
        let created = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: name), data: ["hello": "world"]),
                                              namespace: namespace)
        let watch: WatchStream<ConfigMap> = try await client.watch(
            .configMaps, namespace: namespace,
            options: WatchOptions(resourceVersion: created.metadata.resourceVersion, fieldSelector: "metadata.name=\(name)", timeoutSeconds: 10))
        let _: ConfigMap = try await client.patch(.configMaps, name, namespace: namespace, .merge(["data": ["hello": "aviary"]]))
        try await client.delete(.configMaps, name, namespace: namespace)
        var seen: [String] = []
        for try await event in watch {
            switch event {
            case .modified(let cm): seen.append("modified(hello=\(cm.data?["hello"] ?? ""))")
            case .deleted: seen.append("deleted")
            case .added: seen.append("added")
            case .bookmark, .undecodable: continue
            }
            if seen.last == "deleted" { break }
        }
        print("watch      \(seen.joined(separator: " → "))")
        guard seen == ["modified(hello=aviary)", "deleted"] else {
            throw KubeError.decoding("watch saw \(seen), expected a modify then a delete")
        }
        print("ok")
    }
}
