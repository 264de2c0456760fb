import Foundation
import Kube
import Testing

/// The one-file installs, deploy/install.yaml and deploy/namespace-install.yaml,
/// split into documents: each document's text exactly as in the file, and its value.
enum InstallManifest {
    struct Document: Sendable {
        var text: String
        var value: JSONValue
        var kind: String { value["kind"]?.stringValue ?? "" }
        var apiVersion: String { value["apiVersion"]?.stringValue ?? "" }
        var name: String { value["metadata"]?["name"]?.stringValue ?? "" }
        var namespace: String? { value["metadata"]?["namespace"]?.stringValue }
    }

    /// The documents of a file (a path from the repository's root), split at `---` lines; comment-only ones are dropped.
    static func documents(_ path: String) throws -> [Document] {
        let text = try String(contentsOfFile: TestCluster.repoRoot + "/" + path, encoding: .utf8)
        var chunks: [[Substring]] = [[]]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line == "---" { chunks.append([]) } else { chunks[chunks.count - 1].append(line) }
        }
        return try chunks.compactMap { lines in
            let text = lines.joined(separator: "\n") + "\n"
            let values = try JSONValue.documents(fromYAML: text)
            guard let value = values.first else { return nil }
            #expect(values.count == 1, "\(path): one document per `---`")
            return Document(text: text, value: value)
        }
    }

    /// The documents written to a temporary file, for kubectl; the caller removes it.
    static func temporaryFile(_ documents: [Document]) throws -> String {
        let file = NSTemporaryDirectory() + "aviary-install-\(UUID().uuidString.prefix(6)).yaml"
        try documents.map(\.text).joined(separator: "---\n").write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// The oldest Kubernetes minor version (1.x) that serves each API the manifests use.
    /// README ("Installing in a cluster") states the result; a new kind belongs here first.
    static let minimumMinor: [String: Int] = [
        "apiextensions.k8s.io/v1 CustomResourceDefinition": 16,
        "v1 Namespace": 0, "v1 ServiceAccount": 0, "v1 Service": 0,
        "rbac.authorization.k8s.io/v1 Role": 8, "rbac.authorization.k8s.io/v1 RoleBinding": 8,
        "rbac.authorization.k8s.io/v1 ClusterRole": 8, "rbac.authorization.k8s.io/v1 ClusterRoleBinding": 8,
        "apps/v1 Deployment": 9,
        "policy/v1 PodDisruptionBudget": 21,
    ]

    /// CRD schema features newer than the minimum we state, with the release that brought them.
    static let newerCRDFeatures = [
        "x-kubernetes-validations": "1.25 (CEL validation rules)", "messageExpression": "1.27", "selectableFields": "1.30",
    ]

    static let files = ["deploy/install.yaml", "deploy/namespace-install.yaml"]
}

/// The one-file installs stay what their sources render, use no API newer than
/// the README says, and are accepted by the local API server (a server-side dry
/// run, which changes nothing, so tests running beside it see no difference).
@Suite struct InstallManifestTests {
    @Test func theInstallFilesAreWhatTheirSourcesRender() async throws {
        let (status, output) = try await runCommand("/bin/bash", [TestCluster.repoRoot + "/scripts/render-install.sh", "--check"])
        #expect(status == 0, """
            deploy/install.yaml or deploy/namespace-install.yaml differs from crds/ and deploy/ (they are generated): \
            run scripts/render-install.sh and commit the result.
            \(output)
            """)
    }

    @Test func crdsHoldsOnlyCRDsAndTheInstallFilesCarryThem() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: TestCluster.repoRoot + "/crds").sorted()
        var crds: [String: String] = [:]  // name → text
        for file in files {
            #expect(file.hasSuffix(".yaml"), "crds/\(file): crds/ holds only CRDs, so `kubectl apply -f crds/` works (no kustomization.yaml)")
            let text = try String(contentsOfFile: TestCluster.repoRoot + "/crds/" + file, encoding: .utf8)
            let docs = try JSONValue.documents(fromYAML: text)
            #expect(docs.count == 1 && docs.first?["kind"]?.stringValue == "CustomResourceDefinition", "crds/\(file) is one CRD")
            crds[docs.first?["metadata"]?["name"]?.stringValue ?? file] = text
        }
        #expect(crds.count == 4)
        for path in InstallManifest.files {
            let inFile = try InstallManifest.documents(path).filter { $0.kind == "CustomResourceDefinition" }
            let expected = path.hasSuffix("namespace-install.yaml")
                ? crds.keys.filter { $0 != "clusteranalysistemplates.aviary.dev" }.sorted()  // the namespaced controller watches no cluster-wide templates
                : crds.keys.sorted()
            #expect(inFile.map(\.name).sorted() == expected, "\(path): its CRDs")
            for doc in inFile {
                #expect(doc.text == crds[doc.name], "\(path): \(doc.name) is crds/\(doc.name).yaml byte for byte")
            }
        }
    }

    @Test func nothingNeedsKubernetesNewerThan121() throws {
        var newest = 0
        for path in InstallManifest.files {
            for doc in try InstallManifest.documents(path) {
                let key = "\(doc.apiVersion) \(doc.kind)"
                guard let minor = InstallManifest.minimumMinor[key] else {
                    Issue.record("\(path): \(key) (\(doc.name)) is not in InstallManifest.minimumMinor: add it with the release that serves it, and update README's minimum")
                    continue
                }
                newest = max(newest, minor)
                if doc.kind == "CustomResourceDefinition" {
                    for (feature, since) in InstallManifest.newerCRDFeatures where doc.text.contains(feature) {
                        Issue.record("\(path): \(doc.name) uses \(feature), Kubernetes \(since)")
                    }
                }
            }
        }
        #expect(newest == 21, "README states Kubernetes 1.21 as the minimum (the PodDisruptionBudget is policy/v1); the manifests need 1.\(newest)")
    }

    /// A server-side dry run of every document, both as the README's one-liner
    /// applies it (`kubectl apply`) and as GitOps tools do (`--server-side`): the
    /// API server validates and admits each one as if applying it, and stores
    /// nothing. The PodDisruptionBudget is policy/v1 (1.21+), which the local 1.20
    /// server lacks; there it must be refused for exactly that, and pass as policy/v1beta1.
    @Test(arguments: InstallManifest.files)
    func theAPIServerAcceptsEveryDocument(_ path: String) async throws {
        try await TestCluster.installCRDs()
        let docs = try InstallManifest.documents(path)
        // A dry run creates no namespace, so the namespaced documents need theirs to exist:
        // aviary-system (DeployE2ETests applies it too) and aviary, made here for real and left, empty.
        let admin = try TestCluster.client()
        for ns in Set(docs.compactMap(\.namespace)) {
            do {
                let _: Metadata = try await admin.create(.namespaces, Metadata(metadata: ObjectMeta(name: ns)))
            } catch let e as KubeError where e.isAlreadyExists {}
        }

        let (pdbs, rest) = (docs.filter { $0.kind == "PodDisruptionBudget" }, docs.filter { $0.kind != "PodDisruptionBudget" })
        let file = try InstallManifest.temporaryFile(rest)
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(pdbs.count == 1, "\(path): one PodDisruptionBudget")
        let pdbFile = try InstallManifest.temporaryFile(pdbs)
        defer { try? FileManager.default.removeItem(atPath: pdbFile) }
        let oldPDB = pdbs.map { var d = $0; d.text = d.text.replacingOccurrences(of: "apiVersion: policy/v1\n", with: "apiVersion: policy/v1beta1\n"); return d }
        let oldPDBFile = try InstallManifest.temporaryFile(oldPDB)
        defer { try? FileManager.default.removeItem(atPath: oldPDBFile) }

        for mode in [["--dry-run=server"], ["--server-side", "--dry-run=server"]] {
            let how = "kubectl apply \(mode.joined(separator: " "))"
            let (status, output) = try await InstallLock.shared.run { try await Self.kubectl(["apply"] + mode + ["-f", file]) }
            let accepted = output.split(separator: "\n").filter { $0.hasSuffix("(server dry run)") }
            #expect(status == 0 && accepted.count == rest.count, "\(path), \(how): every document but the PodDisruptionBudget accepted:\n\(output)")

            #expect(pdbs.allSatisfy { $0.apiVersion == "policy/v1" })
            let pdb = try await Self.kubectl(["apply"] + mode + ["-f", pdbFile])
            if pdb.status == 0 { continue }  // a server of 1.21 or later serves policy/v1: accepted as shipped
            #expect(pdb.output.contains(#"no matches for kind "PodDisruptionBudget" in version "policy/v1""#), "\(path), \(how): \(pdb.output)")
            #expect(try await Self.serverMinor() < 21, "only a server older than 1.21 may lack policy/v1: \(pdb.output)")
            // The same spec as the 1.20 server's policy/v1beta1 (same fields) is valid.
            let old = try await Self.kubectl(["apply"] + mode + ["-f", oldPDBFile])
            #expect(old.status == 0 && old.output.contains("(server dry run)"), "\(path), \(how): the PodDisruptionBudget as policy/v1beta1: \(old.output)")
        }
    }

    /// kubectl against the test cluster: its exit status, and stdout and stderr together.
    static func kubectl(_ args: [String]) async throws -> (status: Int32, output: String) {
        var env = ProcessInfo.processInfo.environment
        env["KUBECONFIG"] = try TestCluster.kubeconfigPath
        return try await runCommand("/usr/bin/env", ["kubectl"] + args, environment: env)
    }

    /// The API server's minor version (kube-apiserver 1.20.2 here: 20).
    static func serverMinor() async throws -> Int {
        let json = try await TestCluster.kubectl("version", "-o", "json")
        let value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        let minor = value["serverVersion"]?["minor"]?.stringValue ?? ""
        return Int(minor.prefix { $0.isNumber }) ?? 0
    }
}
