import Foundation
import Kube
import Testing

/// Authentication and authorization against the real API server, under RBAC.
@Suite struct AuthTests {
    struct TokenRequest: Codable, Sendable {
        struct Spec: Codable, Sendable { var expirationSeconds: Int }
        struct TokenStatus: Codable, Sendable { var token: String }
        var apiVersion = "authentication.k8s.io/v1"
        var kind = "TokenRequest"
        var spec = Spec(expirationSeconds: 3600)
        var status: TokenStatus?
    }

    /// A ServiceAccount allowed to read ConfigMaps in its namespace and nothing else, and a fresh token for it.
    func reader(in ns: String, admin: KubeClient) async throws -> String {
        let _: Metadata = try await admin.create(.serviceAccounts, Metadata(metadata: ObjectMeta(name: "reader")), namespace: ns)
        let role: JSONValue = [
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": "cm-reader"],
            "rules": [["apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]]],
        ]
        let binding: JSONValue = [
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": ["name": "cm-reader"],
            "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"],
            "subjects": [["kind": "ServiceAccount", "name": "reader", "namespace": .string(ns)]],
        ]
        let _: JSONValue = try await admin.create(.roles, role, namespace: ns)
        let _: JSONValue = try await admin.create(.roleBindings, binding, namespace: ns)
        let response = try await admin.send("POST", Resource.serviceAccounts.path(namespace: ns, name: "reader", subresource: "token"),
                                            body: try JSONEncoder().encode(TokenRequest()), contentType: "application/json")
        let token = try JSONDecoder().decode(TokenRequest.self, from: response.body).status?.token
        return try #require(token)
    }

    @Test func clientCertificateAuthentication() async throws {
        let admin = try TestCluster.client()
        guard case .clientCertificate = admin.access.credentials else {
            Issue.record("the test kubeconfig should use a client certificate")
            return
        }
        let secrets: ObjectList<Metadata> = try await admin.list(.secrets, namespace: "kube-system")
        #expect(!secrets.items.isEmpty)
    }

    @Test func bearerTokenUnderRBAC() async throws {
        let admin = try TestCluster.client()
        let ns = try await TestCluster.namespace("token", client: admin)
        defer { Task { await TestCluster.deleteNamespace(ns, client: admin) } }
        let token = try await reader(in: ns, admin: admin)
        let _ = try await admin.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "visible")), namespace: ns)

        var access = admin.access
        access.tls.clientCertPEM = nil
        access.tls.clientKeyPEM = nil
        access.credentials = .bearer(TokenSource(token: token))
        let client = KubeClient(access: access)
        let cms: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: ns)
        #expect(cms.items.map(\.metadata.name) == ["visible"])

        // Not granted: a typed 403 that says who was refused what.
        await #expect {
            let _: ObjectList<Metadata> = try await client.list(.secrets, namespace: ns)
        } throws: { error in
            guard let k = error as? KubeError, k.isForbidden, let message = k.status?.message else { return false }
            return k.status?.reason == "Forbidden" && message.contains("system:serviceaccount:\(ns):reader") && message.contains("secrets")
        }
    }

    @Test func inClusterConfigWithARotatingToken() async throws {
        let admin = try TestCluster.client()
        let ns = try await TestCluster.namespace("incluster", client: admin)
        defer { Task { await TestCluster.deleteNamespace(ns, client: admin) } }
        let token = try await reader(in: ns, admin: admin)

        // The files a pod would have, in a directory of our own.
        let dir = NSTemporaryDirectory() + "aviary-sa-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: try TestCluster.directory + "/pki/ca.crt", toPath: dir + "/ca.crt")
        try ns.write(toFile: dir + "/namespace", atomically: true, encoding: .utf8)
        try "not-a-valid-token".write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        let port = try #require(URLComponents(string: admin.access.server)?.port)
        let env = ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(port)]

        let access = try InCluster.load(directory: dir, environment: env)
        #expect(access.namespace == ns)
        let client = KubeClient(access: access)
        await #expect {
            let _: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: access.namespace)
        } throws: { ($0 as? KubeError)?.isUnauthorized == true }

        // The kubelet rotates the token file; the same client picks up the new one.
        try token.write(toFile: dir + "/token", atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(2)], ofItemAtPath: dir + "/token")
        let cms: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: access.namespace)
        #expect(cms.items.isEmpty)
        await #expect {
            let _: ConfigMap = try await client.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "nope")), namespace: access.namespace)
        } throws: { ($0 as? KubeError)?.isForbidden == true }
    }

    @Test func aWrongCAIsAClearTLSError() async throws {
        let dir = NSTemporaryDirectory() + "aviary-ca-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        _ = try await runProcess("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", dir + "/k", "-out", dir + "/ca.crt",
                                                     "-days", "1", "-subj", "/CN=someone-else"])

        var access = try TestCluster.access()
        access.tls.caPEM = FileManager.default.contents(atPath: dir + "/ca.crt")
        let client = KubeClient(access: access, retry: .none)
        await #expect {
            let _: ObjectList<Metadata> = try await client.list(.namespaces)
        } throws: { error in
            guard case .transport(let failure) = error as? KubeError else { return false }
            return failure.kind == .tls && "\(error)".contains(access.server) && "\(error)".contains("not trusted by the configured certificate authority")
        }
    }

    @Test func aWrongTokenIsATyped401() async throws {
        var access = try TestCluster.access()
        access.tls.clientCertPEM = nil
        access.tls.clientKeyPEM = nil
        access.credentials = .bearer(TokenSource(token: "wrong"))
        let client = KubeClient(access: access)
        await #expect {
            let _: ObjectList<Metadata> = try await client.list(.namespaces)
        } throws: { error in
            guard let k = error as? KubeError else { return false }
            return k.isUnauthorized && "\(error)".contains("Unauthorized")
        }
    }

    @Test func aServerThatIsNotThereNamesItself() async throws {
        var access = try TestCluster.access()
        access.server = "https://127.0.0.1:1"
        let client = KubeClient(access: access, retry: RetryPolicy(maxAttempts: 2, baseDelay: 0.01))
        await #expect {
            let _: ObjectList<Metadata> = try await client.list(.namespaces)
        } throws: { error in
            guard case .transport(let failure) = error as? KubeError else { return false }
            return failure.kind == .couldNotConnect && "\(error)".hasPrefix("cannot connect to https://127.0.0.1:1")
        }
    }
}
