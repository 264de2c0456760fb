import Foundation
import Kube
import Testing

/// deploy/dashboard and deploy/dashboard/with-actions: what they grant, how
/// the pod runs, and a server-side dry run of each on the local API server.
@Suite struct DashboardManifestTests {
    static let kustomizations = ["deploy/dashboard", "deploy/dashboard/with-actions"]

    static func rendered(_ path: String) async throws -> [JSONValue] {
        let (status, output) = try await runCommand("/usr/bin/env", ["kubectl", "kustomize", TestCluster.repoRoot + "/" + path])
        #expect(status == 0, "kubectl kustomize \(path): \(output)")
        // kubectl may print a deprecation warning as a comment first; YAML ignores it.
        return try JSONValue.documents(fromYAML: output)
    }

    @Test(arguments: kustomizations)
    func readOnlyRightsAndAHardenedPod(_ path: String) async throws {
        let docs = try await Self.rendered(path)
        for doc in docs {
            let key = "\(doc["apiVersion"]?.stringValue ?? "") \(doc["kind"]?.stringValue ?? "")"
            #expect(InstallManifest.minimumMinor[key].map { $0 <= 21 } == true, "\(path): \(key) is not in InstallManifest.minimumMinor or needs more than 1.21")
        }
        // Reads, the two reviews, and (with actions only) impersonation: never a write on anything.
        let rules = docs.filter { $0["kind"] == "ClusterRole" }.flatMap { $0["rules"]?.arrayValue ?? [] }
        for rule in rules {
            let verbs = Set((rule["verbs"]?.arrayValue ?? []).compactMap(\.stringValue))
            let resources = Set((rule["resources"]?.arrayValue ?? []).compactMap(\.stringValue))
            let ok = verbs.isSubset(of: ["get", "list", "watch"])
                || (verbs == ["create"] && resources.isSubset(of: ["tokenreviews", "subjectaccessreviews"]))
                || (verbs == ["impersonate"] && path.hasSuffix("with-actions"))
            #expect(ok, "\(path): a rule grants \(verbs.sorted()) on \(resources.sorted())")
        }
        #expect(rules.contains { ($0["verbs"]?.arrayValue ?? []).contains("impersonate") } == path.hasSuffix("with-actions"))
        let deployment = try #require(docs.first { $0["kind"] == "Deployment" })
        let pod = try #require(deployment["spec"]?["template"]?["spec"])
        #expect(pod["securityContext"]?["runAsNonRoot"] == true)
        let container = try #require(pod["containers"]?.arrayValue?.first)
        #expect(container["securityContext"]?["readOnlyRootFilesystem"] == true)
        #expect(container["securityContext"]?["allowPrivilegeEscalation"] == false)
        let args = (container["args"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(args.starts(with: ["dashboard", "--in-cluster"]))
        #expect(args.contains("--allow-actions") == path.hasSuffix("with-actions"))
        #expect(container["readinessProbe"] != nil && container["livenessProbe"] != nil)
        #expect(docs.first { $0["kind"] == "Service" }?["spec"]?["type"] == "ClusterIP")
    }

    @Test(arguments: kustomizations)
    func theAPIServerAcceptsIt(_ path: String) async throws {
        let admin = try TestCluster.client()
        do {
            let _: Metadata = try await admin.create(.namespaces, Metadata(metadata: ObjectMeta(name: "aviary-system")))
        } catch let e as KubeError where e.isAlreadyExists {}
        let count = try await Self.rendered(path).count
        for mode in [["--dry-run=server"], ["--server-side", "--dry-run=server"]] {
            let (status, output) = try await InstallLock.shared.run {
                try await InstallManifestTests.kubectl(["apply"] + mode + ["-k", TestCluster.repoRoot + "/" + path])
            }
            let accepted = output.split(separator: "\n").filter { $0.hasSuffix("(server dry run)") }
            #expect(status == 0 && accepted.count == count, "kubectl apply \(mode.joined(separator: " ")) -k \(path):\n\(output)")
        }
    }
}
