import AviaryAPI
import Dashboard
import Foundation
import Kube
import Logging
import Testing
import TestSupport

/// In-cluster mode against the real API server: the dashboard runs as a
/// ServiceAccount with deploy/dashboard's ClusterRole, and each viewer's own
/// ServiceAccount token decides what they see (TokenReview, SubjectAccessReview).
@Suite struct DashboardInClusterE2ETests {
    static let steps: JSONValue = [["setWeight": 50], ["pause": [:]]]

    /// A ServiceAccount in `ns` and a fresh token for it.
    static func serviceAccount(_ name: String, in ns: String, admin: KubeClient) async throws -> String {
        let _: Metadata = try await admin.create(.serviceAccounts, Metadata(metadata: ObjectMeta(name: name)), namespace: ns)
        let response = try await admin.send("POST", Resource.serviceAccounts.path(namespace: ns, name: name, subresource: "token"),
                                            body: try JSONEncoder().encode(AuthTests.TokenRequest()), contentType: "application/json")
        return try #require(try JSONDecoder().decode(AuthTests.TokenRequest.self, from: response.body).status?.token)
    }

    /// A binding of `role` (a Role in `ns`, or a ClusterRole) to the ServiceAccount `sa` of `saNamespace`.
    static func bind(_ sa: String, of saNamespace: String, to role: String, kind: String, in ns: String?, name: String, admin: KubeClient) async throws {
        let binding: JSONValue = [
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": ns == nil ? "ClusterRoleBinding" : "RoleBinding", "metadata": ["name": .string(name)],
            "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": .string(kind), "name": .string(role)],
            "subjects": [["kind": "ServiceAccount", "name": .string(sa), "namespace": .string(saNamespace)]],
        ]
        let resource = ns == nil ? Resource(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", namespaced: false) : .roleBindings
        let _: JSONValue = try await admin.create(resource, binding, namespace: ns)
    }

    static func client(_ token: String, like admin: KubeClient) -> KubeClient {
        var access = admin.access
        access.tls.clientCertPEM = nil
        access.tls.clientKeyPEM = nil
        access.credentials = .bearer(TokenSource(token: token))
        return KubeClient(access: access, qps: 50, burst: 100)
    }

    @Test func eachViewerSeesOnlyWhatTheirRBACAllows() async throws {
        let admin = try TestCluster.client()
        try await TestCluster.installCRDs()
        // deploy/dashboard's ClusterRoles, as written. Under the install lock: a server dry-run of the same
        // kustomization elsewhere would otherwise see "not found", then "already exists" when it creates.
        for file in ["deploy/dashboard/read-only/clusterrole.yaml", "deploy/dashboard/with-actions/clusterrole.yaml"] {
            _ = try await InstallLock.shared.run { try await TestCluster.kubectl("apply", "-f", TestCluster.repoRoot + "/" + file) }
        }
        let a = try await TestCluster.namespace("dash-a", client: admin)
        let b = try await TestCluster.namespace("dash-b", client: admin)
        defer { Task { await TestCluster.deleteNamespace(a, client: admin); await TestCluster.deleteNamespace(b, client: admin) } }
        try await TestCluster.createExampleCanary(in: a, client: admin, steps: Self.steps)
        try await TestCluster.createExampleCanary(in: b, client: admin, steps: Self.steps)

        // The dashboard's own identity: a ServiceAccount with the ClusterRoles (cluster-wide bindings named after the namespace, removed after).
        let dashboardToken = try await Self.serviceAccount("aviary-dashboard", in: a, admin: admin)
        let clusterBindings = Resource(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", namespaced: false)
        try await Self.bind("aviary-dashboard", of: a, to: "aviary-dashboard", kind: "ClusterRole", in: nil, name: "\(a)-read", admin: admin)
        try await Self.bind("aviary-dashboard", of: a, to: "aviary-dashboard-impersonate", kind: "ClusterRole", in: nil, name: "\(a)-impersonate", admin: admin)
        defer { Task { try? await admin.delete(clusterBindings, "\(a)-read"); try? await admin.delete(clusterBindings, "\(a)-impersonate") } }

        // Viewers: one per namespace (a Role that lists Rollouts), and one with no rights at all.
        let role: JSONValue = [
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": "rollout-viewer"],
            "rules": [["apiGroups": ["aviary.dev"], "resources": ["rollouts"], "verbs": ["get", "list", "watch"]]],
        ]
        for ns in [a, b] { let _: JSONValue = try await admin.create(.roles, role, namespace: ns) }
        let tokenA = try await Self.serviceAccount("viewer", in: a, admin: admin)
        let tokenB = try await Self.serviceAccount("viewer", in: b, admin: admin)
        let tokenNone = try await Self.serviceAccount("nobody", in: a, admin: admin)
        try await Self.bind("viewer", of: a, to: "rollout-viewer", kind: "Role", in: a, name: "viewer", admin: admin)
        try await Self.bind("viewer", of: b, to: "rollout-viewer", kind: "Role", in: b, name: "viewer", admin: admin)

        // The dashboard in-process, in in-cluster mode, as its ServiceAccount, watching every namespace.
        let dashboard = Self.client(dashboardToken, like: admin)
        var options = DashboardServer.Options(address: "127.0.0.1", port: 0)
        let gate = ViewerGate(client: dashboard)
        options.viewers = gate
        let running = try await InProcessDashboard.start(client: dashboard, namespace: nil, options: options)
        defer { running.stop() }
        let port = running.port, cache = running.cache

        func list(_ token: String) async throws -> (status: Int, namespaces: Set<String>, message: String?) {
            var body: [String: Any] = [:]
            var status = 0
            // The caches fill in as the watches list; both Rollouts are there within seconds.
            for _ in 0..<50 {
                let r = try await RawHTTP.request(port: port, "/api/rollouts", headers: ["Authorization": "Bearer \(token)"])
                status = r.status
                body = (try? JSONSerialization.jsonObject(with: Data(r.body.utf8)) as? [String: Any]) ?? [:]
                if status != 200 || cache.rollout(namespace: a, name: "web") != nil && cache.rollout(namespace: b, name: "web") != nil { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let rows = body["rollouts"] as? [[String: Any]] ?? []
            return (status, Set(rows.compactMap { $0["namespace"] as? String }), body["message"] as? String)
        }
        let seenA = try await list(tokenA), seenB = try await list(tokenB), seenNone = try await list(tokenNone)
        #expect(seenA.status == 200 && seenA.namespaces == [a])
        #expect(seenB.status == 200 && seenB.namespaces == [b])
        #expect(seenNone.status == 200 && seenNone.namespaces.isEmpty)
        #expect(seenNone.message?.contains("system:serviceaccount:\(a):nobody may not list rollouts.aviary.dev") == true, "\(seenNone.message ?? "no message")")
        #expect(try await list("not-a-real-token-0123456789").status == 401)
        #expect(try await list(tokenB + "x").status == 401)

        // One Rollout: the viewer's namespace answers, the other is as if it were not there.
        #expect(try await RawHTTP.request(port: port, "/api/rollouts/\(a)/web", headers: ["Authorization": "Bearer \(tokenA)"]).status == 200)
        #expect(try await RawHTTP.request(port: port, "/api/rollouts/\(b)/web", headers: ["Authorization": "Bearer \(tokenA)"]).status == 404)
        // The login cookie works as the header does.
        let login = try await RawHTTP.request(port: port, "/login?token=\(tokenB)")
        #expect(login.status == 303)
        #expect(try await RawHTTP.request(port: port, "/api/rollouts/\(b)/web", headers: ["Cookie": "aviary_dashboard=\(tokenB)"]).status == 200)
        #expect(try await RawHTTP.request(port: port, "/login?token=bogus-token-0123456789").status == 401)

        // The hook for actions: a client impersonating the reviewed viewer has the viewer's rights, not the dashboard's.
        guard case .viewer(let viewerA) = await gate.authenticate(token: tokenA) else {
            Issue.record("viewer a's token should be accepted")
            return
        }
        #expect(viewerA.username == "system:serviceaccount:\(a):viewer")
        let asA = try #require(try gate.client(for: viewerA))
        let mine: ObjectList<Metadata> = try await asA.list(Rollout.resource, namespace: a)
        #expect(mine.items.count == 1)
        await #expect {
            let _: ObjectList<Metadata> = try await asA.list(Rollout.resource, namespace: b)
        } throws: { error in (error as? KubeError)?.isForbidden == true }
    }
}
