import ArgumentParser
import Foundation
import Kube

/// `version`: the plugin's version and, when the cluster answers, the
/// controller's, read from the annotation the leader writes on its Lease
/// (else from its Deployment's image tag); a mismatch is a warning, since a
/// plugin newer or older than the controller may write fields it ignores.
struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the plugin's version and, when the cluster answers, the controller's; warn when they differ.")
    @OptionGroup var cluster: ClusterOptions
    @Option(help: "Where the controller runs: its Lease and Deployment.") var controllerNamespace = "aviary-system"
    @Flag(help: "Only the plugin's version; do not ask the cluster.") var clientOnly = false

    static let deployments = Resource(group: "apps", version: "v1", plural: "deployments", namespaced: true)

    func run() async throws {
        print("aviary \(AviaryVersion.current)")
        guard !clientOnly else { return }
        let client: KubeClient
        do {
            var c = try cluster.client()
            c.requestTimeout = .seconds(5)
            c.retry = .none
            client = c
        } catch {
            Self.note("controller: not asked (\(error))")
            return
        }
        guard let (version, source) = await Self.controllerVersion(client, namespace: controllerNamespace) else {
            Self.note("controller: none found in namespace \(controllerNamespace) (no aviary-controller Lease or Deployment; --controller-namespace says where)")
            return
        }
        print("controller \(version) (\(source))")
        if version != AviaryVersion.current {
            Self.note("warning: the plugin is \(AviaryVersion.current) but the controller is \(version); install matching versions, "
                + "since either may write or expect fields the other does not know")
        }
    }

    /// To stderr, after what stdout already has (so a merged log reads in order).
    static func note(_ line: String) {
        fflush(nil)  // every output stream: stdout is global mutable state to Swift 6
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The leading controller's version and where it was read, or nil.
    static func controllerVersion(_ client: KubeClient, namespace: String) async -> (String, String)? {
        if let leases: ObjectList<JSONValue> = try? await client.list(.leases, namespace: namespace) {
            let ours = leases.items.filter { ($0["metadata"]?["name"]?.stringValue ?? "").hasPrefix("aviary-controller") }
                .sorted { ($0["spec"]?["renewTime"]?.stringValue ?? "") > ($1["spec"]?["renewTime"]?.stringValue ?? "") }
            for lease in ours {
                if let v = lease["metadata"]?["annotations"]?["aviary.dev/controller-version"]?.stringValue, !v.isEmpty {
                    let name = lease["metadata"]?["name"]?.stringValue ?? ""
                    let holder = lease["spec"]?["holderIdentity"]?.stringValue ?? "nobody"
                    return (v, "Lease \(namespace)/\(name), held by \(holder)")
                }
            }
        }
        if let d: JSONValue = try? await client.get(deployments, "aviary-controller", namespace: namespace),
           case .array(let containers)? = d["spec"]?["template"]?["spec"]?["containers"],
           let image = containers.first?["image"]?.stringValue, let colon = image.lastIndex(of: ":"), !image[colon...].contains("/") {
            return (String(image[image.index(after: colon)...]), "image \(image) of Deployment \(namespace)/aviary-controller")
        }
        return nil
    }
}
