import Foundation
import Testing
@testable import Kube

private let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
private let pemB64 = Data(pem.utf8).base64EncodedString()

/// The kubeconfig fields client-go reads beyond the basics: exec plugins,
/// tls-server-name, proxy-url, disable-compression, and plain http refused.
@Suite struct KubeConfigClientGoTests {
    func access(_ text: String, file: String = "/k", allowInsecureHTTP: Bool = false) throws -> ClusterAccess {
        try KubeConfig.parse(text, file: file).access(allowInsecureHTTP: allowInsecureHTTP)
    }

    func execSource(_ access: ClusterAccess) -> ExecCredentialSource? {
        if case .exec(let source) = access.credentials { return source }
        return nil
    }

    @Test func execV1WithEverything() throws {
        let a = try access("""
            current-context: x
            clusters:
            - name: c
              cluster:
                server: "https://h:1"
                certificate-authority-data: \(pemB64)
                tls-server-name: kubernetes.default.svc
                proxy-url: "socks5://proxy.example:1080"
                disable-compression: true
                extensions:
                - name: something-else
                  extension: {ignored: true}
                - name: client.authentication.k8s.io/exec
                  extension: {audience: aviary, nested: {n: 1}}
            users:
            - name: dev
              user:
                exec:
                  apiVersion: client.authentication.k8s.io/v1
                  command: bin/get-token
                  args: [token, --cluster, c]
                  env: [{name: A, value: "1"}, {name: EMPTY}]
                  installHint: "brew install get-token"
                  provideClusterInfo: true
                  interactiveMode: Never
            contexts: [{name: x, context: {cluster: c, user: dev}}]
            """, file: "/etc/kube/config")
        let source = try #require(execSource(a))
        #expect(source.config == ExecConfig(apiVersion: .v1, command: "/etc/kube/bin/get-token", args: ["token", "--cluster", "c"],
                                            env: [.init(name: "A", value: "1"), .init(name: "EMPTY", value: "")],
                                            installHint: "brew install get-token", provideClusterInfo: true, interactiveMode: .never))
        #expect(source.user == "dev")
        #expect(source.timeout == ExecCredentialSource.defaultTimeout)
        #expect(a.tls.serverName == "kubernetes.default.svc")
        #expect(a.proxy == .url("socks5://proxy.example:1080"))
        #expect(a.disableCompression)
        #expect(!a.allowInsecureHTTP)

        // What the plugin is handed: client-go's field names, the CA as base64, the cluster extension as config.
        let info = try JSONDecoder().decode(JSONValue.self, from: Data(source.execInfo(interactive: false).utf8))
        let expected: JSONValue = [
            "apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
            "spec": [
                "interactive": false,
                "cluster": [
                    "server": "https://h:1", "tls-server-name": "kubernetes.default.svc", "certificate-authority-data": .string(pemB64),
                    "proxy-url": "socks5://proxy.example:1080", "disable-compression": true,
                    "config": ["audience": "aviary", "nested": ["n": 1]],
                ],
            ],
        ]
        #expect(info == expected)
    }

    @Test func withoutProvideClusterInfoThePluginIsToldOnlyWhetherItMayPrompt() throws {
        let a = try access("""
            current-context: x
            clusters: [{name: c, cluster: {server: "https://h:1"}}]
            users: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1beta1, command: aws}}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            """)
        let source = try #require(execSource(a))
        // v1beta1 defaults to IfAvailable; a bare name stays a name, found on PATH when run.
        #expect(source.config == ExecConfig(apiVersion: .v1beta1, command: "aws", interactiveMode: .ifAvailable))
        let info = try JSONDecoder().decode(JSONValue.self, from: Data(source.execInfo(interactive: true).utf8))
        #expect(info == ["apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential", "spec": ["interactive": true]])
    }

    @Test(arguments: [
        ("{command: aws}", "users[0].user.exec.apiVersion: missing; use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"),
        ("{apiVersion: client.authentication.k8s.io/v1alpha1, command: aws}",
         "users[0].user.exec.apiVersion: \"client.authentication.k8s.io/v1alpha1\" is no longer supported (Kubernetes 1.24 removed it); use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"),
        ("{apiVersion: client.authentication.k8s.io/v1, command: aws}",
         "users[0].user.exec.interactiveMode: missing: client.authentication.k8s.io/v1 requires one of Never, IfAvailable, Always"),
        ("{apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Sometimes}",
         "users[0].user.exec.interactiveMode: \"Sometimes\" is not one of Never, IfAvailable, Always"),
        ("{apiVersion: client.authentication.k8s.io/v1, interactiveMode: Never}", "users[0].user.exec.command: missing"),
        ("{apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Never, args: [a, [b]]}",
         "users[0].user.exec.args[1]: must be a string"),
        ("{apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Never, env: [{value: x}]}",
         "users[0].user.exec.env[0].name: missing"),
        ("[aws]", "users[0].user.exec: must be a mapping"),
    ])
    func execMistakesNameTheField(exec: String, message: String) {
        #expect {
            _ = try KubeConfig.parse("users: [{name: u, user: {exec: \(exec)}}]", file: "/k")
        } throws: { "\($0)" == "kubeconfig /k: \(message)" }
    }

    @Test func aTokenBeatsAnExecPluginAsInClientGo() throws {
        let a = try access("""
            current-context: x
            clusters: [{name: c, cluster: {server: "https://h:1"}}]
            users: [{name: u, user: {token: abc, exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Never}}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            """)
        guard case .bearer(let token) = a.credentials else { Issue.record("expected the token"); return }
        #expect(try token.current() == "abc")
    }

    @Test(arguments: [
        ("proxy-url: \"ftp://p:21\"", "clusters[0].cluster.proxy-url: unsupported scheme \"ftp\"; it must be http, https or socks5"),
        ("proxy-url: \"p:3128\"", "clusters[0].cluster.proxy-url: \"p:3128\" is not a URL with a scheme; write e.g. http://proxy.example:3128"),
        ("tls-server-name: \"a b\"", "clusters[0].cluster.tls-server-name: \"a b\" is not a host name or IP address"),
        ("disable-compression: maybe", "clusters[0].cluster.disable-compression: must be true or false"),
    ])
    func clusterMistakesNameTheField(field: String, message: String) {
        #expect {
            _ = try KubeConfig.parse("clusters: [{name: c, cluster: {server: \"https://h:1\", \(field)}}]", file: "/k")
        } throws: { "\($0)" == "kubeconfig /k: \(message)" }
    }

    @Test func proxyURLsAsClientGoTakesThem() throws {
        for (written, curl) in [("http://p:3128", "http://p:3128"), ("https://p:443", "https://p:443"), ("socks5://p:1080", "socks5h://p:1080"),
                                ("HTTP://user:pw@p:3128", "http://user:pw@p:3128")] {
            let a = try access("""
                current-context: x
                clusters: [{name: c, cluster: {server: "https://h:1", proxy-url: "\(written)"}}]
                contexts: [{name: x, context: {cluster: c}}]
                """)
            #expect(a.proxy == .url(written))
            #expect(a.proxyForRequests(environment: ProxyEnvironment(environment: ["NO_PROXY": "*"])) == curl,
                    "a proxy-url applies whatever NO_PROXY says")
        }
        let none = try access("""
            current-context: x
            clusters: [{name: c, cluster: {server: "https://h:1"}}]
            contexts: [{name: x, context: {cluster: c}}]
            """)
        #expect(none.proxy == .environment)
        #expect(!none.disableCompression)
        #expect(none.tls.serverName == nil)
    }

    @Test func plainHTTPIsRefusedUnlessAllowed() throws {
        let text = """
            current-context: x
            clusters: [{name: c, cluster: {server: "http://h:8080"}}]
            users: [{name: u, user: {token: abc}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            """
        #expect {
            _ = try access(text)
        } throws: {
            "\($0)" == "kubeconfig /k: clusters[0].cluster.server: \"http://h:8080\" is plain http, so the token or client certificate and every object "
                + "would cross the network in clear; use an https:// server, or pass --allow-insecure-http to allow it"
        }
        let allowed = try access(text, allowInsecureHTTP: true)
        #expect(allowed.allowInsecureHTTP)
        #expect(allowed.server == "http://h:8080")
        #expect(try access(text.replacingOccurrences(of: "http://", with: "https://")).server == "https://h:8080")
    }

    @Test func relativePathsResolveAgainstEachFilesOwnDirectory() throws {
        let root = try TempDir()
        let a = root.path + "/a", b = root.path + "/b"
        try FileManager.default.createDirectory(atPath: a + "/certs", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: b, withIntermediateDirectories: true)
        try pem.write(toFile: a + "/certs/ca.crt", atomically: true, encoding: .utf8)
        try "CERT".write(toFile: b + "/client.crt", atomically: true, encoding: .utf8)
        try "KEY".write(toFile: b + "/client.key", atomically: true, encoding: .utf8)
        try """
            current-context: x
            clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority: certs/ca.crt}}]
            contexts: [{name: x, context: {cluster: c, user: u}}, {name: y, context: {cluster: c, user: plugin}}]
            """.write(toFile: a + "/config", atomically: true, encoding: .utf8)
        try """
            users:
            - {name: u, user: {client-certificate: client.crt, client-key: ./client.key}}
            - {name: plugin, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ../bin/plugin, interactiveMode: Never}}}
            """.write(toFile: b + "/config", atomically: true, encoding: .utf8)
        let cfg = try KubeConfig.load(environment: ["KUBECONFIG": "\(a)/config:\(b)/config"])
        let x = try cfg.access()
        #expect(x.tls.caPEM == Data(pem.utf8))
        #expect(x.tls.clientCertPEM == Data("CERT".utf8))
        #expect(x.tls.clientKeyPEM == Data("KEY".utf8))
        let y = try #require(execSource(try cfg.access(context: "y")))
        #expect(y.config.command == root.path + "/bin/plugin", "joined and cleaned, as Go's filepath.Join does")
    }
}

/// Go's http.ProxyFromEnvironment, case by case (its own test table).
@Suite struct ProxyEnvironmentTests {
    let env = ProxyEnvironment(environment: [
        "HTTP_PROXY": "proxy.corp:3128",
        "NO_PROXY": "foobar.com, .barbaz.net, *.wildcard.io, 192.168.1.1, 192.168.1.2:81, 192.168.1.3:80, 10.0.0.0/30, "
            + "2001:db8::52:0:1, [2001:db8::52:0:2]:443, [2001:db8::52:0:3]:80, 2002:db8:a::45/64",
    ])

    @Test(arguments: [
        ("localhost", false), ("127.0.0.1", false), ("127.0.0.2", false), ("[::1]", false), ("[::2]", true),
        ("192.168.1.1", false), ("192.168.1.2", true), ("192.168.1.3", false), ("192.168.1.4", true), ("10.0.0.2", false),
        ("[2001:db8::52:0:1]", false), ("[2001:db8::52:0:2]", true), ("[2001:db8::52:0:3]", false), ("[2002:db8:a::123]", false),
        ("[fe80::424b:c8be:1643:a1b6]", true),
        ("barbaz.net", true), ("www.barbaz.net", false), ("foobar.com", false), ("www.foobar.com", false), ("foofoobar.com", true),
        ("baz.com", true), ("localhost.net", true), ("local.localhost", true), ("barbarbaz.net", true), ("wildcard.io", true),
        ("nested.wildcard.io", false), ("awildcard.io", true), ("WWW.FOOBAR.COM", false),
    ])
    func noProxyAsGoReadsIt(host: String, proxied: Bool) {
        #expect(env.proxy(for: "http://\(host)/api") == (proxied ? "http://proxy.corp:3128" : ""))
    }

    @Test func theSchemeChoosesTheVariableAndCapitalsWin() {
        let e = ProxyEnvironment(environment: ["HTTPS_PROXY": "https://upper:1", "https_proxy": "http://lower:2", "http_proxy": "http://plain:3"])
        #expect(e.proxy(for: "https://api.example:6443") == "https://upper:1")
        #expect(e.proxy(for: "http://api.example:8080") == "http://plain:3")
        #expect(ProxyEnvironment(environment: ["https_proxy": "http://lower:2"]).proxy(for: "https://api.example") == "http://lower:2")
        #expect(ProxyEnvironment(environment: ["HTTPS_PROXY": "", "https_proxy": "http://lower:2"]).proxy(for: "https://a") == "http://lower:2")
        #expect(ProxyEnvironment(environment: ["HTTP_PROXY": "http://p:1"]).proxy(for: "https://api.example") == "", "HTTP_PROXY is for http only")
    }

    @Test func portsInNoProxyAreTheURLsOrTheSchemesDefault() {
        let e = ProxyEnvironment(environment: ["HTTPS_PROXY": "p:1", "NO_PROXY": "api.example:6443,other.example:443"])
        #expect(e.proxy(for: "https://api.example:6443") == "")
        #expect(e.proxy(for: "https://api.example") == "http://p:1")
        #expect(e.proxy(for: "https://other.example") == "")
        #expect(ProxyEnvironment(environment: ["HTTPS_PROXY": "p:1", "NO_PROXY": "*"]).proxy(for: "https://anything:1") == "")
    }

    @Test func proxyValuesAsGoAndCurlTakeThem() {
        #expect(ProxyEnvironment.proxyURL("proxy:3128") == "http://proxy:3128")
        #expect(ProxyEnvironment.proxyURL("10.0.0.1:3128") == "http://10.0.0.1:3128")
        #expect(ProxyEnvironment.proxyURL("socks5://s:1080") == "socks5h://s:1080")
        #expect(ProxyEnvironment.proxyURL("https://user:p%40ss@p:443") == "https://user:p%40ss@p:443")
        #expect(ProxyEnvironment.proxyURL("ftp://p:21") == nil)
        #expect(ProxyEnvironment.proxyURL("http://p:1\r\nX: y") == nil)
        #expect(ProxyEnvironment(environment: ["HTTPS_PROXY": "gopher://p:70"]).proxy(for: "https://a") == "", "an unusable value is ignored")
    }

    @Test func aKubeconfigProxyOrDirectOverridesTheEnvironment() {
        var access = ClusterAccess(server: "https://10.1.2.3:6443", tls: TLSSettings(), credentials: .none, source: "test")
        let e = ProxyEnvironment(environment: ["HTTPS_PROXY": "http://env:1"])
        #expect(access.proxyForRequests(environment: e) == "http://env:1")
        access.proxy = .direct
        #expect(access.proxyForRequests(environment: e) == "")
        access.proxy = .url("http://mine:2")
        #expect(access.proxyForRequests(environment: e) == "http://mine:2")
    }
}

/// tls-server-name: the URL's host becomes the name, CONNECT_TO goes to the real host.
@Suite struct ServerNameRouteTests {
    @Test func reroutesToTheRealHostAndKeepsTheHostHeader() {
        #expect(Transfer.serverNameRoute(url: "https://10.0.0.1:6443/api/v1/pods?limit=5", serverName: "kubernetes")
            == .rerouted(url: "https://kubernetes:6443/api/v1/pods?limit=5", connectTo: "kubernetes:6443:10.0.0.1:6443", hostHeader: "Host: 10.0.0.1:6443"))
        #expect(Transfer.serverNameRoute(url: "https://api.example/x", serverName: "internal.example")
            == .rerouted(url: "https://internal.example/x", connectTo: "internal.example:443:api.example:443", hostHeader: "Host: api.example"))
        #expect(Transfer.serverNameRoute(url: "https://[::1]:6443/", serverName: "kubernetes")
            == .rerouted(url: "https://kubernetes:6443/", connectTo: "kubernetes:6443:[::1]:6443", hostHeader: "Host: [::1]:6443"))
        #expect(Transfer.serverNameRoute(url: "https://Kubernetes:6443/", serverName: "kubernetes") == .unchanged)
        #expect(Transfer.serverNameRoute(url: "https://h:1/", serverName: "bad name") == .unusable)
    }
}
