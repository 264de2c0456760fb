import AviaryAPI
import Foundation
import Kube
import Testing

/// deploy/install.yaml as a user applies it, and the controller in in-cluster mode under
/// exactly its ClusterRole: the release binary (built as the Dockerfile builds
/// it, when scripts/test.sh provides it) with a TokenRequest token, the CA and
/// the namespace in a service-account directory.
@Suite struct DeployE2ETests {
    struct TokenRequest: Codable, Sendable {
        var apiVersion = "authentication.k8s.io/v1"
        var kind = "TokenRequest"
        var spec = Spec()
        var status: Status?
        struct Spec: Codable, Sendable { var expirationSeconds = 3600 }
        struct Status: Codable, Sendable { var token: String }
    }

    /// deploy/install.yaml (the CRDs + deploy/cluster rendered by kustomize; a test
    /// keeps it so), applied as the README says, `kubectl apply -f`. Its CRDs are
    /// crds/ byte for byte, already applied by installCRDs, so they stay unchanged.
    /// The PodDisruptionBudget is policy/v1, which the local API server (1.20)
    /// predates; it is left out here only (InstallManifestTests checks it).
    static func applyDeploy() async throws {
        let docs = try InstallManifest.documents("deploy/install.yaml").filter { $0.kind != "PodDisruptionBudget" }
        let file = try InstallManifest.temporaryFile(docs)
        defer { try? FileManager.default.removeItem(atPath: file) }
        _ = try await InstallLock.shared.run { try await TestCluster.kubectl("apply", "-f", file) }
    }

    /// The binary under test: the release build when scripts/test.sh made one.
    static var binary: String {
        get throws { try ProcessInfo.processInfo.environment["AVIARY_RELEASE_BIN"] ?? ControllerProcess.debugBinary() }
    }

    /// A service-account directory for aviary-system/aviary-controller, as the kubelet would mount it.
    static func serviceAccountDirectory(admin: KubeClient) async throws -> String {
        let response = try await admin.send("POST", Resource.serviceAccounts.path(namespace: "aviary-system", name: "aviary-controller", subresource: "token"),
                                            body: try JSONEncoder().encode(TokenRequest()), contentType: "application/json")
        let token = try #require(try JSONDecoder().decode(TokenRequest.self, from: response.body).status?.token)
        let dir = NSTemporaryDirectory() + "aviary-sa-\(UUID().uuidString.prefix(6))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try token.write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try "aviary-system".write(toFile: dir + "/namespace", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: try TestCluster.directory + "/pki/ca.crt", toPath: dir + "/ca.crt")
        return dir
    }

    @Test func theReleaseBinaryRunsInClusterUnderTheDeployRBACAndNoMore() async throws {
        #expect(try await runCommand(try Self.binary, ["--version"]).output.hasPrefix("0.1.0"))

        try await TestCluster.installCRDs()
        try await Self.applyDeploy()
        let admin = try TestCluster.client()
        let dir = try await Self.serviceAccountDirectory(admin: admin)
        let ns = try await TestCluster.namespace("rbac", client: admin)
        let instance = "rbac-\(UInt16.random(in: 1000...9999))"
        let label: JSONValue = ["metadata": ["labels": ["aviary.dev/instance-id": .string(instance)]]]

        // A canary with an analysis step whose argument comes from a Secret, and a blue-green Rollout.
        let secret = Secret(metadata: ObjectMeta(name: "token", namespace: ns), data: ["token": Data("abc".utf8).base64EncodedString()])
        let _: Secret = try await admin.create(.secrets, secret, namespace: ns)
        let prometheus = try AnalysisE2ETests.prometheusURL
        let template: JSONValue = [
            "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": "up"],
            "spec": ["args": [["name": "token", "valueFrom": ["secretKeyRef": ["name": "token", "key": "token"]]]],
                     "metrics": [["name": "up", "successCondition": "result[0] == 1",
                                  "provider": ["prometheus": ["address": .string(prometheus), "query": "vector(1)",
                                                              "headers": [["key": "X-Token", "value": "{{args.token}}"]]]]]]],
        ]
        let _: JSONValue = try await admin.create(AnalysisTemplate.resource, template, namespace: ns)
        for doc in try TestCluster.example("canary-rollout.yaml") + TestCluster.example("bluegreen-rollout.yaml") {
            guard doc["kind"] == "Rollout" else {
                let _: JSONValue = try await admin.create(.services, doc, namespace: ns)
                continue
            }
            var r = doc.overlaid(with: label).setting(["spec", "replicas"], to: 2)
            if r["spec"]?["strategy"]?["canary"] != nil {
                r = r.setting(["spec", "strategy", "canary", "steps"], to: [["setWeight": 50], ["analysis": ["templates": [["templateName": "up"]]]]])
            } else {
                r = r.setting(["spec", "strategy", "blueGreen", "prePromotionAnalysis"], to: nil)
                    .setting(["spec", "strategy", "blueGreen", "autoPromotionEnabled"], to: true)
                    .setting(["spec", "strategy", "blueGreen", "scaleDownDelaySeconds"], to: 1)
            }
            let _: JSONValue = try await admin.create(Rollout.resource, r, namespace: ns)
        }

        let api = try String(contentsOfFile: try TestCluster.directory + "/api.port", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let controller = try ControllerProcess(
            namespace: nil, arguments: ["--instance-id", instance], kubeconfig: false,
            environment: ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": api, "AVIARY_SERVICEACCOUNT_DIR": dir,
                          "PATH": "/usr/bin:/bin"],
            executable: try Self.binary)
        defer { controller.kill() }
        let canary = RolloutProbe(client: admin, namespace: ns, name: "web")
        let blueGreen = RolloutProbe(client: admin, namespace: ns, name: "shop")
        for p in [canary, blueGreen] {
            try await p.wait("\(p.name) Healthy in-cluster") { $0.status?.phase == .Healthy }
            try await p.setImage(p.name == "web" ? "registry.example/web:2.0" : "registry.example/shop:2.0")
        }
        for p in [canary, blueGreen] {
            try await p.wait("\(p.name) updated under the ClusterRole", timeout: .seconds(60)) {
                $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash && $0.status?.observedGeneration == 2
            }
        }
        let run: AnalysisRun = try await admin.get(AnalysisRun.resource, "web-\(try await canary.rollout().status?.stableRS ?? "")-1", namespace: ns)
        #expect(run.phase == .Successful, "the analysis read its Secret argument")
        try await eventually("the old blue-green ReplicaSet scaled down") { try await blueGreen.sizes()["registry.example/shop:1.0"]?.desired == 0 }
        let lease: JSONValue = try await admin.get(.leases, "aviary-controller-\(instance)", namespace: "aviary-system")
        #expect(lease["spec"]?["holderIdentity"]?.stringValue?.isEmpty == false, "leader election under the ClusterRole")

        let log = try String(contentsOfFile: controller.log, encoding: .utf8)
        #expect(!log.lowercased().contains("forbidden"), "no request was refused: \(log.split(separator: "\n").filter { $0.lowercased().contains("forbidden") }.prefix(3))")

        // Least privilege: the same identity can read one Secret by name, but not list them.
        var access = try TestCluster.access()
        access.tls.clientCertPEM = nil
        access.tls.clientKeyPEM = nil
        access.credentials = .bearer(TokenSource(token: try String(contentsOfFile: dir + "/token", encoding: .utf8)))
        let asController = KubeClient(access: access)
        let _: Secret = try await asController.get(.secrets, "token", namespace: ns)
        await #expect {
            let _: ObjectList<Secret> = try await asController.list(.secrets, namespace: ns)
        } throws: { ($0 as? KubeError)?.status?.code == 403 }
        await #expect {
            let _: ConfigMap = try await asController.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "nope", namespace: ns)), namespace: ns)
        } throws: { ($0 as? KubeError)?.status?.code == 403 }
        // Leases only in the controller's own namespace: elsewhere, not even a read.
        await #expect {
            let _: JSONValue = try await asController.get(.leases, "aviary-controller", namespace: ns)
        } throws: { ($0 as? KubeError)?.status?.code == 403 }
        // In its own namespace a read is allowed (a missing Lease is a 404, not a 403).
        do {
            let _: JSONValue = try await asController.get(.leases, "no-such-lease", namespace: "aviary-system")
        } catch let e as KubeError where e.isNotFound {}
        await TestCluster.deleteNamespace(ns, client: admin)
    }
}
