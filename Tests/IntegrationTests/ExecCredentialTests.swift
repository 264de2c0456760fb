import Foundation
import Kube
import Testing

/// Exec credential plugins (kubeconfig `users[].user.exec`) against the real
/// API server: small sh scripts written by the tests hand out ServiceAccount
/// tokens the server accepts (made with TokenRequest), or the admin's client
/// certificate.
@Suite struct ExecCredentialTests {
    struct TokenRequest: Codable, Sendable {
        struct Spec: Codable, Sendable { var expirationSeconds = 3600 }
        struct TokenStatus: Codable, Sendable { var token: String }
        var apiVersion = "authentication.k8s.io/v1"
        var kind = "TokenRequest"
        var spec = Spec()
        var status: TokenStatus?
    }

    /// A namespace whose ServiceAccounts may read ConfigMaps, and a directory for plugins and kubeconfigs.
    struct Fixture {
        let admin: KubeClient
        let ns: String
        let dir: String

        static func make(_ prefix: String) async throws -> Fixture {
            let admin = try TestCluster.client()
            let ns = try await TestCluster.namespace(prefix, client: admin)
            let role: JSONValue = [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": ["name": "cm-reader"],
                "rules": [["apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]]],
            ]
            let _: JSONValue = try await admin.create(.roles, role, namespace: ns)
            let dir = NSTemporaryDirectory() + "aviary-exec-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            return Fixture(admin: admin, ns: ns, dir: dir)
        }

        func cleanUp() { Task { [admin, ns] in await TestCluster.deleteNamespace(ns, client: admin) } }

        /// A ServiceAccount that may read ConfigMaps here, and a fresh token for it.
        func token(for name: String) async throws -> String {
            let _: Metadata = try await admin.create(.serviceAccounts, Metadata(metadata: ObjectMeta(name: name)), namespace: ns)
            let binding: JSONValue = [
                "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": .object(["name": .string(name)]),
                "roleRef": ["apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"],
                "subjects": [["kind": "ServiceAccount", "name": .string(name), "namespace": .string(ns)]],
            ]
            let _: JSONValue = try await admin.create(.roleBindings, binding, namespace: ns)
            let response = try await admin.send("POST", Resource.serviceAccounts.path(namespace: ns, name: name, subresource: "token"),
                                                body: try JSONEncoder().encode(TokenRequest()), contentType: "application/json")
            return try #require(try JSONDecoder().decode(TokenRequest.self, from: response.body).status?.token)
        }

        func write(_ name: String, _ text: String) throws {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
        }

        func read(_ name: String) -> String {
            (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? ""
        }

        func script(_ name: String, _ body: String) throws {
            try write(name, "#!/bin/sh\n" + body + "\n")
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir + "/" + name)
        }

        var runs: Int { read("runs").split(separator: "\n").count }

        /// A kubeconfig beside the plugins, whose user runs `exec` (YAML flow mapping entries).
        /// The command is relative (`./plugin`), so it resolves against this file's directory.
        func kubeconfig(exec: String, apiVersion: String = "client.authentication.k8s.io/v1") throws -> String {
            let server = admin.access.server
            try write("kubeconfig", """
                apiVersion: v1
                kind: Config
                current-context: exec
                clusters:
                - name: local
                  cluster: {server: "\(server)", certificate-authority: "\(try TestCluster.directory)/pki/ca.crt"}
                users:
                - name: plugin-user
                  user:
                    exec: {apiVersion: \(apiVersion), \(exec)}
                contexts:
                - name: exec
                  context: {cluster: local, user: plugin-user, namespace: "\(ns)"}
                """)
            return dir + "/kubeconfig"
        }

        /// Who the server takes the client to be, from the Forbidden message for a list of secrets.
        func identity(_ client: KubeClient) async -> String {
            do {
                let _: ObjectList<Metadata> = try await client.list(.secrets, namespace: ns)
                return "allowed"
            } catch let error as KubeError where error.isForbidden {
                let message = error.status?.message ?? ""
                return message.contains("system:serviceaccount:\(ns):first") ? "first"
                    : message.contains("system:serviceaccount:\(ns):second") ? "second" : message
            } catch {
                return "\(error)"
            }
        }
    }

    @Test func aTokenIsCachedUntilItExpiresThenFetchedAgain() async throws {
        let f = try await Fixture.make("exec-token")
        defer { f.cleanUp() }
        try f.write("token", try await f.token(for: "first"))
        let rotated = try await f.token(for: "second")
        // Hands out the token and expiry in the files beside it, with its arguments; counts its runs.
        try f.script("plugin", """
            dir=$(dirname "$0")
            echo "$@" >> "$dir/runs"
            printf '%s' "$KUBERNETES_EXEC_INFO" > "$dir/exec-info"
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\\n' \
              "$(cat "$dir/token")" "$(cat "$dir/expiry")"
            """)
        let path = try f.kubeconfig(exec: "command: ./plugin, args: [get-token, --for, aviary], interactiveMode: Never, provideClusterInfo: true")
        let access = try KubeConfig.load(explicitPath: path).access()
        #expect(access.namespace == f.ns)
        let client = KubeClient(access: access)

        // Good for 4 s from now (to the microsecond, as a plugin may write it).
        let expiry = MicroTime(Date().addingTimeInterval(4))
        try f.write("expiry", expiry.description)
        let _: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: f.ns)
        let _: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: f.ns)
        #expect(await f.identity(client) == "first")
        #expect(f.runs == 1, "cached: one run for three requests")
        #expect(f.read("runs") == "get-token --for aviary\n")

        // The plugin's source rotates; the cached token is used until it expires, then the plugin runs again.
        try f.write("token", rotated)
        try f.write("expiry", MicroTime(Date().addingTimeInterval(3600)).description)
        #expect(await f.identity(client) == "first")
        #expect(f.runs == 1)
        try await Task.sleep(for: .seconds(max(0, expiry.date.timeIntervalSinceNow) + 0.2))
        #expect(await f.identity(client) == "second")
        #expect(f.runs == 2)
        #expect(await f.identity(client) == "second")
        #expect(f.runs == 2)

        // provideClusterInfo: the plugin was told which cluster, with its CA.
        let info = try JSONDecoder().decode(JSONValue.self, from: Data(f.read("exec-info").utf8))
        let ca = try #require(FileManager.default.contents(atPath: try TestCluster.directory + "/pki/ca.crt"))
        #expect(info == ["apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                         "spec": ["interactive": false,
                                  "cluster": ["server": .string(access.server), "certificate-authority-data": .string(ca.base64EncodedString())]]])
    }

    @Test func a401FetchesAFreshCredentialAndRetriesOnce() async throws {
        let f = try await Fixture.make("exec-401")
        defer { f.cleanUp() }
        try f.write("token", try await f.token(for: "first"))
        // The first run hands out a token the server does not know (no expiry, so only a 401 replaces it).
        try f.script("plugin", """
            dir=$(dirname "$0")
            echo run >> "$dir/runs"
            if [ "$(wc -l < "$dir/runs")" -eq 1 ]; then token=revoked-token; else token=$(cat "$dir/token"); fi
            printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$token"
            """)
        let client = KubeClient(access: try KubeConfig.load(explicitPath: try f.kubeconfig(exec: "command: ./plugin, interactiveMode: Never")).access(),
                                retry: .none)
        let _: ConfigMap = try await f.admin.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "visible")), namespace: f.ns)
        let list: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: f.ns)
        #expect(list.items.map(\.metadata.name) == ["visible"])
        #expect(f.runs == 2)
        let _: ConfigMap = try await client.get(.configMaps, "visible", namespace: f.ns)
        #expect(f.runs == 2)

        // A watch gets the same treatment: refused once, then opened with a fresh token.
        try f.write("runs", "")
        let watchClient = KubeClient(access: try KubeConfig.load(explicitPath: try f.kubeconfig(exec: "command: ./plugin, interactiveMode: Never")).access())
        let stream: WatchStream<ConfigMap> = try await watchClient.watch(.configMaps, namespace: f.ns,
                                                                         options: WatchOptions(resourceVersion: list.metadata.resourceVersion))
        defer { stream.cancel() }
        #expect(f.runs == 2)
        let _: ConfigMap = try await f.admin.create(.configMaps, ConfigMap(metadata: ObjectMeta(name: "later")), namespace: f.ns)
        var events = stream.makeAsyncIterator()
        #expect(try await events.next()?.object?.metadata.name == "later")
    }

    @Test func aClientCertificateFromAPlugin() async throws {
        let f = try await Fixture.make("exec-cert")
        defer { f.cleanUp() }
        let pki = try TestCluster.directory + "/pki"
        try f.script("plugin", """
            cert=$(awk '{printf "%s\\\\n", $0}' "\(pki)/admin.crt")
            key=$(awk '{printf "%s\\\\n", $0}' "\(pki)/admin.key")
            printf '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"clientCertificateData":"%s","clientKeyData":"%s"}}' \
              "$cert" "$key"
            """)
        let path = try f.kubeconfig(exec: "command: ./plugin", apiVersion: "client.authentication.k8s.io/v1beta1")
        let access = try KubeConfig.load(explicitPath: path).access()
        #expect(access.tls.clientCertPEM == nil)
        // The admin's certificate (system:masters) came from the plugin: secrets in kube-system are readable.
        let secrets: ObjectList<Metadata> = try await KubeClient(access: access).list(.secrets, namespace: "kube-system")
        #expect(!secrets.items.isEmpty)
    }

    @Test func aHungPluginFailsByNameAndHoldsUpNothingElse() async throws {
        let f = try await Fixture.make("exec-hung")
        defer { f.cleanUp() }
        let token = try await f.token(for: "first")
        try f.script("hang", "sleep 60")
        let hungAccess = try KubeConfig.load(explicitPath: try f.kubeconfig(exec: "command: ./hang, interactiveMode: Never"))
            .access(execTimeout: .seconds(5))
        let hungClient = KubeClient(access: hungAccess)
        var staticAccess = f.admin.access
        staticAccess.tls.clientCertPEM = nil
        staticAccess.tls.clientKeyPEM = nil
        staticAccess.credentials = .bearer(TokenSource(token: token))
        let staticClient = KubeClient(access: staticAccess)

        let start = ContinuousClock.now
        let hung = Task { () -> Error? in
            do {
                let _: ObjectList<ConfigMap> = try await hungClient.list(.configMaps, namespace: f.ns)
                return nil
            } catch {
                return error
            }
        }
        let alsoHung = Task { () -> Error? in
            do {
                let _: ConfigMap = try await hungClient.get(.configMaps, "x", namespace: f.ns)
                return nil
            } catch {
                return error
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        // Meanwhile another client's requests go through at once, many of them.
        let staticStart = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 {
                group.addTask { let _: ObjectList<ConfigMap> = try await staticClient.list(.configMaps, namespace: f.ns) }
            }
            try await group.waitForAll()
        }
        let staticDone = ContinuousClock.now
        let staticTook = staticDone - staticStart
        // Well inside the plugin's 5 s (usually a few tens of milliseconds; generous for a loaded machine).
        #expect(staticTook < .seconds(5), "requests with other credentials waited \(staticTook)")

        let error = try #require(await hung.value)
        let second = try #require(await alsoHung.value)
        let took = ContinuousClock.now - start
        #expect(staticDone - start < took, "the other client finished while the plugin hung")
        #expect(took >= .seconds(5) && took < .seconds(15), "the plugin's timeout is 5 s; it took \(took)")
        let plugin = f.dir + "/hang"
        #expect((error as? ExecPluginError)?.kind == .timedOut)
        #expect("\(error)" == "exec plugin \"\(plugin)\" (user \"plugin-user\") did not finish within 5.0 seconds and was killed")
        #expect("\(second)" == "\(error)", "both requests waited on the same run")
    }

    @Test func aMissingPluginSaysHowToInstallIt() async throws {
        let f = try await Fixture.make("exec-missing")
        defer { f.cleanUp() }
        let path = try f.kubeconfig(exec: """
            command: aviary-test-missing-plugin, interactiveMode: Never,
            installHint: "aviary-test-missing-plugin is needed to log in: see https://example.invalid/install"
            """)
        let client = KubeClient(access: try KubeConfig.load(explicitPath: path).access())
        await #expect {
            let _: ObjectList<ConfigMap> = try await client.list(.configMaps, namespace: f.ns)
        } throws: { error in
            (error as? ExecPluginError)?.kind == .notFound
                && "\(error)" == "exec plugin \"aviary-test-missing-plugin\" (user \"plugin-user\") not found on PATH; install hint: "
                + "aviary-test-missing-plugin is needed to log in: see https://example.invalid/install"
        }
    }
}
