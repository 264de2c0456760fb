import Foundation
import Synchronization
import Testing
import TestSupport
@testable import Kube

/// A directory with plugin scripts written by the test.
struct PluginDir {
    let dir: TempDir
    var path: String { dir.path }

    init() throws { dir = try TempDir() }

    /// Writes an executable /bin/sh script and returns its path.
    func script(_ name: String, _ body: String) throws -> String {
        let p = try dir.write(name, "#!/bin/sh\n" + body + "\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: p)
        return p
    }

    /// A plugin that prints a token credential from the files `token` and `expiry` beside it, counting its runs in `runs`.
    func tokenPlugin(apiVersion: String = "client.authentication.k8s.io/v1", sleep: String = "0") throws -> String {
        try script("token-plugin", """
            dir=$(dirname "$0")
            echo run >> "$dir/runs"
            sleep \(sleep)
            printf '{"apiVersion":"%s","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"%s"}}\\n' \
              "\(apiVersion)" "$(cat "$dir/token")" "$(cat "$dir/expiry")"
            """)
    }

    func set(_ name: String, _ value: String) throws { try dir.write(name, value) }

    func read(_ name: String) -> String {
        (try? String(contentsOfFile: path + "/" + name, encoding: .utf8)) ?? ""
    }

    var runs: Int { read("runs").split(separator: "\n").count }
}

func source(_ command: String, mode: ExecConfig.InteractiveMode = .never, env: [ExecConfig.EnvVar] = [], args: [String] = [],
            hint: String? = nil, timeout: Duration = .seconds(10), terminal: Bool = false,
            apiVersion: ExecConfig.APIVersion = .v1, cluster: ExecClusterInfo? = nil) -> ExecCredentialSource {
    ExecCredentialSource(config: ExecConfig(apiVersion: apiVersion, command: command, args: args, env: env, installHint: hint,
                                            provideClusterInfo: cluster != nil, interactiveMode: mode),
                         user: "dev", cluster: cluster, timeout: timeout, stdinIsTerminal: terminal)
}

/// Exec plugins run for real (small sh scripts), without an API server.
@Suite struct ExecPluginTests {
    @Test func aCredentialIsCachedUntilItExpires() async throws {
        let d = try PluginDir()
        try d.set("token", "t-1")
        try d.set("expiry", "2999-01-01T00:00:00Z")
        let s = source(try d.tokenPlugin())
        let first = try await s.credential()
        #expect(first.token == "t-1")
        #expect(first.expiration == Date(timeIntervalSince1970: 32_472_144_000))
        #expect(try await s.credential().token == "t-1")
        #expect(d.runs == 1)

        // Already expired when it arrives: used for the request that asked, fetched again for the next.
        let d2 = try PluginDir()
        try d2.set("token", "old")
        try d2.set("expiry", "2001-02-03T04:05:06.789+01:00")
        let s2 = source(try d2.tokenPlugin())
        let expiration = try #require(try await s2.credential().expiration)
        #expect(abs(expiration.timeIntervalSince1970 - 981_169_506.789) < 0.000_01)
        #expect(try await s2.credential().token == "old")
        #expect(d2.runs == 2)
    }

    @Test func invalidateDropsOnlyTheCredentialThatWasRefused() async throws {
        let d = try PluginDir()
        try d.set("token", "a")
        try d.set("expiry", "")
        let s = source(try d.tokenPlugin())
        let a = try await s.credential()
        #expect(a.expiration == nil)
        try d.set("token", "b")
        s.invalidate(a)
        let b = try await s.credential()
        #expect(b.token == "b")
        s.invalidate(a) // a stale 401 (sent with a) must not throw away b
        #expect(try await s.credential().token == "b")
        #expect(d.runs == 2)
    }

    @Test func concurrentRequestsShareOneRun() async throws {
        let d = try PluginDir()
        try d.set("token", "shared")
        try d.set("expiry", "2999-01-01T00:00:00Z")
        let s = source(try d.tokenPlugin(sleep: "0.5"))
        let tokens = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<16 { group.addTask { try await s.credential().token } }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(tokens == Array(repeating: "shared", count: 16))
        #expect(d.runs == 1)
        #expect(s.runs == 1)
    }

    @Test func theEnvironmentArgumentsAndExecInfoReachThePlugin() async throws {
        let d = try PluginDir()
        let plugin = try d.script("plugin", """
            dir=$(dirname "$0")
            printf '%s|' "$@" > "$dir/args"
            printf '%s' "$GREETING" > "$dir/env"
            printf '%s' "$KUBERNETES_EXEC_INFO" > "$dir/info"
            cat > "$dir/stdin"
            echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"x"}}'
            """)
        let cluster = ExecClusterInfo(server: "https://h:1", certificateAuthorityData: Data("CA".utf8))
        let s = source(plugin, mode: .ifAvailable, env: [.init(name: "GREETING", value: "hello world")], args: ["get token", "--x"],
                       apiVersion: .v1beta1, cluster: cluster)
        #expect(try await s.credential().token == "x")
        #expect(d.read("args") == "get token|--x|")
        #expect(d.read("env") == "hello world")
        #expect(d.read("stdin") == "", "stdin is /dev/null when the plugin may not prompt")
        let info = try JSONDecoder().decode(JSONValue.self, from: Data(d.read("info").utf8))
        #expect(info == ["apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                         "spec": ["interactive": false, "cluster": ["server": "https://h:1", "certificate-authority-data": "Q0E="]]])
    }

    @Test func alwaysWithoutATerminalIsRefusedBeforeRunning() async throws {
        let d = try PluginDir()
        try d.set("token", "x")
        try d.set("expiry", "")
        let plugin = try d.tokenPlugin()
        let error = await #expect(throws: ExecPluginError.self) { _ = try await source(plugin, mode: .always).credential() }
        #expect(error?.kind == .needsTerminal)
        #expect(error?.description == "exec plugin \"\(plugin)\" (user \"dev\") has interactiveMode Always, but standard input is not a terminal; "
            + "aviary never lets a plugin prompt without one")
        #expect(d.runs == 0)
    }

    @Test func aMissingCommandShowsTheInstallHint() async throws {
        let s = source("aviary-no-such-plugin", hint: "Install it with:\n  apt-get install aviary-no-such-plugin\n")
        let error = await #expect(throws: ExecPluginError.self) { _ = try await s.credential() }
        #expect(error?.kind == .notFound)
        #expect(error?.description == "exec plugin \"aviary-no-such-plugin\" (user \"dev\") not found on PATH; install hint: "
            + "Install it with:\n  apt-get install aviary-no-such-plugin")
        let path = await #expect(throws: ExecPluginError.self) { _ = try await source("/nowhere/plugin").credential() }
        #expect(path?.description == "exec plugin \"/nowhere/plugin\" (user \"dev\") not found (the kubeconfig gives no installHint)")
    }

    @Test func aHungPluginIsKilledWithWhatItStarted() async throws {
        let d = try PluginDir()
        let plugin = try d.script("hang", """
            sleep 60 &
            echo $! > "$(dirname "$0")/child"
            echo "waiting for a browser login" >&2
            sleep 60
            """)
        let start = ContinuousClock.now
        let error = await #expect(throws: ExecPluginError.self) { _ = try await source(plugin, timeout: .seconds(1)).credential() }
        // Killed at its timeout, not after its 60 s sleep (a loaded machine may take a few seconds more).
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(error?.kind == .timedOut)
        #expect(error?.description == "exec plugin \"\(plugin)\" (user \"dev\") did not finish within 1.0 seconds and was killed; "
            + "it said: waiting for a browser login")
        // The background sleep went with it (its process group was killed): gone, or a zombie awaiting its reaper.
        let child = try #require(Int32(d.read("child").trimmingCharacters(in: .whitespacesAndNewlines)))
        var gone = false
        for _ in 0..<100 where !gone {
            let stat = (try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8)) ?? ""
            gone = stat.isEmpty || stat.contains(") Z ")
            if !gone { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(gone)
    }

    @Test func aWaiterThatIsCancelledStopsWaitingAtOnce() async throws {
        let d = try PluginDir()
        let s = source(try d.script("slow", "sleep 30"), timeout: .seconds(40))
        let task = Task { try await s.credential() }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        // Not the plugin's 30 s (the bound leaves room for a test process whose other suites keep its threads busy).
        #expect(ContinuousClock.now - start < .seconds(20), "not the plugin's 30 s")
    }

    @Test func failuresSayWhatThePluginSaid() async throws {
        let d = try PluginDir()
        let failing = try d.script("fail", "echo 'token expired:' >&2; echo '  run plugin login' >&2; exit 3")
        let failed = await #expect(throws: ExecPluginError.self) { _ = try await source(failing).credential() }
        #expect(failed?.kind == .failed)
        #expect(failed?.description == "exec plugin \"\(failing)\" (user \"dev\") failed with exit status 3: token expired: | run plugin login")

        let huge = try d.script("huge", "head -c 3000000 /dev/zero | tr '\\0' a")
        let tooLarge = await #expect(throws: ExecPluginError.self) { _ = try await source(huge).credential() }
        #expect(tooLarge?.kind == .outputTooLarge)
        #expect(tooLarge?.description == "exec plugin \"\(huge)\" (user \"dev\") wrote more than 1048576 bytes to standard output and was killed")

        let wrongVersion = try d.script("v1beta1", """
            echo '{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}'
            """)
        let version = await #expect(throws: ExecPluginError.self) { _ = try await source(wrongVersion).credential() }
        #expect(version?.description == "exec plugin \"\(wrongVersion)\" (user \"dev\") returned an unusable ExecCredential: apiVersion is "
            + "\"client.authentication.k8s.io/v1beta1\", but the kubeconfig asks for \"client.authentication.k8s.io/v1\"")

        let notExecutable = try d.dir.write("plain", "#!/bin/sh\necho hi\n")
        let cannot = await #expect(throws: ExecPluginError.self) { _ = try await source(notExecutable).credential() }
        #expect(cannot?.kind == .cannotStart)
        #expect(cannot?.description == "exec plugin \"\(notExecutable)\" (user \"dev\") cannot be started: Permission denied")
    }

    @Test(arguments: [
        ("", "its standard output is empty"),
        ("{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"Secret\",\"status\":{\"token\":\"t\"}}",
         "kind is \"Secret\", not \"ExecCredential\""),
        ("{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\"}", "it has no status"),
        ("{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{}}",
         "status has neither a token nor a clientCertificateData and clientKeyData pair"),
        ("{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"clientCertificateData\":\"C\"}}",
         "status has clientCertificateData without clientKeyData"),
        ("{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"a\\nb\"}}",
         "status.token has a line break or NUL in it"),
        ("{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"a\",\"expirationTimestamp\":\"tomorrow\"}}",
         "status.expirationTimestamp \"tomorrow\" is not an RFC 3339 time"),
        ("{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"a\",\"expirationTimestamp\":\"99999-01-01T00:00:00Z\"}}",
         "status.expirationTimestamp \"99999-01-01T00:00:00Z\" is not an RFC 3339 time"),
    ])
    func unusableOutputIsNamed(output: String, problem: String) {
        #expect {
            _ = try ExecCredentialSource.parse(Data(output.utf8), apiVersion: .v1, generation: 1)
        } throws: { ($0 as? ExecCredentialSource.OutputProblem)?.text == problem }
    }

    @Test func aClientCertificateFromThePluginGoesIntoThatRequestsTLS() async throws {
        let d = try PluginDir()
        let plugin = try d.script("cert", """
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"CERT","clientKeyData":"KEY"}}'
            """)
        let client = KubeClient(access: ClusterAccess(server: "https://h:1", tls: TLSSettings(caPEM: Data("CA".utf8)),
                                                      credentials: .exec(source(plugin)), source: "test"))
        let prepared = try await client.makeRequest("GET", "/api", query: [], body: nil, contentType: nil, compress: true)
        #expect(prepared.request.tls.clientCertPEM == Data("CERT".utf8))
        #expect(prepared.request.tls.clientKeyPEM == Data("KEY".utf8))
        #expect(prepared.request.tls.caPEM == Data("CA".utf8))
        #expect(!prepared.request.headers.contains { $0.hasPrefix("Authorization") })
        #expect(prepared.request.acceptEncoding == "gzip")
        #expect(client.access.tls.clientCertPEM == nil, "the access itself is unchanged: the certificate is per request")
    }
}

/// The client with an exec plugin, compression and proxies, against a tiny
/// http server (plain http, so --allow-insecure-http's field is set).
@Suite(.serialized) struct ClientWireTests {
    final class Heads: Sendable {
        let seen = Mutex<[String]>([])
        func add(_ head: String) { seen.withLock { $0.append(head) } }
        var all: [String] { seen.withLock { $0 } }
    }

    static let namespaceJSON = Array(#"{"metadata":{"name":"plain"}}"#.utf8)
    // gzip of {"metadata":{"name":"zipped"}}
    static let gzipped = [UInt8](Data(base64Encoded: "H4sIAAAAAAACA6tWyk0tSUxJLElUsqpWykvMTVWyUqrKLChITVGqrQUAK8RkaB4AAAA=") ?? Data())

    @Test func a401RunsThePluginAgainAndRetriesOnce() async throws {
        let heads = Heads()
        let server = try TinyHTTPServer { head in
            heads.add(head)
            return head.contains("Authorization: Bearer new")
                ? TinyHTTPServer.response("200 OK", headers: ["Content-Type: application/json"], body: Self.namespaceJSON)
                : TinyHTTPServer.response("401 Unauthorized", headers: ["Content-Length: 0"], body: [])
        }
        defer { server.stop() }
        let d = try PluginDir()
        // The first run hands out a token the server no longer takes; later runs a fresh one.
        let plugin = try d.script("rotating", """
            dir=$(dirname "$0")
            echo run >> "$dir/runs"
            if [ "$(wc -l < "$dir/runs")" -eq 1 ]; then t=old; else t=new; fi
            echo "{\\"apiVersion\\":\\"client.authentication.k8s.io/v1\\",\\"kind\\":\\"ExecCredential\\",\\"status\\":{\\"token\\":\\"$t\\"}}"
            """)
        let s = source(plugin)
        let client = KubeClient(access: ClusterAccess(server: "http://127.0.0.1:\(server.port)", tls: TLSSettings(), credentials: .exec(s),
                                                      source: "test", allowInsecureHTTP: true, proxy: .direct), retry: .none)
        let ns: Metadata = try await client.create(.namespaces, Metadata(metadata: ObjectMeta(name: "plain")))
        #expect(ns.metadata.name == "plain")
        #expect(heads.all.count == 2)
        #expect(d.runs == 2)
        // Still good: no more runs.
        let _: Metadata = try await client.get(.namespaces, "plain")
        #expect(d.runs == 2)

        // A server that refuses every credential: one fresh try, then the 401.
        let refusing = try TinyHTTPServer { _ in TinyHTTPServer.response("401 Unauthorized", headers: ["Content-Length: 0"], body: []) }
        defer { refusing.stop() }
        let other = KubeClient(access: ClusterAccess(server: "http://127.0.0.1:\(refusing.port)", tls: TLSSettings(), credentials: .exec(s),
                                                     source: "test", allowInsecureHTTP: true, proxy: .direct), retry: .none)
        await #expect { let _: Metadata = try await other.get(.namespaces, "x") } throws: { ($0 as? KubeError)?.isUnauthorized == true }
        #expect(refusing.connections == 2)
        #expect(d.runs == 3)
    }

    @Test func getsAskForGzipUnlessTheKubeconfigSaysNot() async throws {
        let heads = Heads()
        let server = try TinyHTTPServer { head in
            heads.add(head)
            guard head.lowercased().contains("accept-encoding: gzip") else {
                return TinyHTTPServer.response("200 OK", headers: ["Content-Type: application/json"], body: Self.namespaceJSON)
            }
            return TinyHTTPServer.response("200 OK", headers: ["Content-Type: application/json", "Content-Encoding: gzip",
                                                                "Content-Length: \(Self.gzipped.count)"], body: Self.gzipped)
        }
        defer { server.stop() }
        var access = ClusterAccess(server: "http://127.0.0.1:\(server.port)", tls: TLSSettings(), credentials: .none, source: "test",
                                   allowInsecureHTTP: true, proxy: .direct)
        let zipped: Metadata = try await KubeClient(access: access).get(.namespaces, "zipped")
        #expect(zipped.metadata.name == "zipped", "curl decoded the gzip body")
        let _: Metadata = try await KubeClient(access: access).create(.namespaces, Metadata(metadata: ObjectMeta(name: "plain")))
        access.disableCompression = true
        let plain: Metadata = try await KubeClient(access: access).get(.namespaces, "plain")
        #expect(plain.metadata.name == "plain")
        let encodings = heads.all.map { $0.lowercased().contains("accept-encoding: gzip") }
        #expect(encodings == [true, false, false], "a GET asks; a POST and disable-compression do not")
    }

    @Test func plainHTTPNeedsTheFlagEvenWhenBuiltByHand() async throws {
        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("200 OK", body: Self.namespaceJSON) }
        defer { server.stop() }
        let client = KubeClient(access: ClusterAccess(server: "http://127.0.0.1:\(server.port)", tls: TLSSettings(),
                                                      credentials: .bearer(TokenSource(token: "secret")), source: "test cluster"))
        await #expect {
            let _: Metadata = try await client.get(.namespaces, "x")
        } throws: {
            "\($0)".hasPrefix("test cluster: \"http://127.0.0.1:\(server.port)\" is plain http") && "\($0)".hasSuffix("pass --allow-insecure-http to allow it")
        }
        #expect(server.connections == 0, "nothing was sent")
    }

    @Test func aProxyURLCarriesEveryRequest() async throws {
        let heads = Heads()
        let proxy = try TinyHTTPServer { head in
            heads.add(head)
            return TinyHTTPServer.response("200 OK", headers: ["Content-Type: application/json"], body: Self.namespaceJSON)
        }
        defer { proxy.stop() }
        // The name does not resolve here: only the proxy could have answered.
        let client = KubeClient(access: ClusterAccess(server: "http://api.aviary-test.invalid:8080", tls: TLSSettings(),
                                                      credentials: .bearer(TokenSource(token: "t")), source: "test",
                                                      allowInsecureHTTP: true, proxy: .url("http://127.0.0.1:\(proxy.port)")))
        let ns: Metadata = try await client.get(.namespaces, "plain")
        #expect(ns.metadata.name == "plain")
        #expect(heads.all.first?.hasPrefix("GET http://api.aviary-test.invalid:8080/api/v1/namespaces/plain HTTP/1.1") == true)
    }
}
