import Foundation
import Testing
@testable import Kube

/// Writes files into a fresh temporary directory.
struct TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "aviary-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let p = path + "/" + name
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
}

private let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
private let pemB64 = Data(pem.utf8).base64EncodedString()

@Suite struct KubeConfigTests {
    @Test func resolvesCurrentContextWithInlineData() throws {
        let cfg = try KubeConfig.parse("""
            apiVersion: v1
            kind: Config
            current-context: dev
            clusters:
            - name: c1
              cluster: {server: "https://10.0.0.1:6443", certificate-authority-data: \(pemB64)}
            users:
            - name: u1
              user: {client-certificate-data: \(pemB64), client-key-data: \(pemB64)}
            contexts:
            - name: dev
              context: {cluster: c1, user: u1, namespace: team-a}
            """, file: "/k")
        let access = try cfg.access()
        #expect(access.server == "https://10.0.0.1:6443")
        #expect(access.namespace == "team-a")
        #expect(access.tls.caPEM == Data(pem.utf8))
        #expect(access.tls.clientCertPEM == Data(pem.utf8))
        #expect(access.tls.insecureSkipVerify == false)
        guard case .clientCertificate = access.credentials else { Issue.record("expected client certificate"); return }
    }

    @Test func mergesFilesFirstDefinitionWins() throws {
        let dir = try TempDir()
        let a = try dir.write("a", """
            current-context: ""
            clusters:
            - name: shared
              cluster: {server: "https://first:1"}
            contexts:
            - name: one
              context: {cluster: shared}
            """)
        let b = try dir.write("b", """
            current-context: two
            clusters:
            - name: shared
              cluster: {server: "https://second:2"}
            contexts:
            - name: two
              context: {cluster: shared, user: tok}
            users:
            - name: tok
              user: {token: abc}
            """)
        let cfg = try KubeConfig.load(environment: ["KUBECONFIG": "\(a):\(dir.path)/missing:\(b)"])
        #expect(cfg.currentContext == "two")
        let access = try cfg.access()
        #expect(access.server == "https://first:1")
        guard case .bearer(let token) = access.credentials else { Issue.record("expected a token"); return }
        #expect(try token.current() == "abc")
        #expect(try cfg.access(context: "one").server == "https://first:1")
    }

    @Test func relativePathsResolveAgainstTheFile() throws {
        let dir = try TempDir()
        try dir.write("ca.crt", pem)
        try dir.write("token", "from-file\n")
        let path = try dir.write("config", """
            current-context: x
            clusters:
            - {name: c, cluster: {server: "https://h:1", certificate-authority: ca.crt}}
            users:
            - {name: u, user: {tokenFile: token}}
            contexts:
            - {name: x, context: {cluster: c, user: u}}
            """)
        let access = try KubeConfig.load(explicitPath: path).access()
        #expect(access.tls.caPEM == Data(pem.utf8))
        guard case .bearer(let token) = access.credentials else { Issue.record("expected a token"); return }
        #expect(try token.current() == "from-file")
    }

    @Test func insecureWithACAIsRefused() throws {
        let cfg = try KubeConfig.parse("""
            current-context: x
            clusters: [{name: c, cluster: {server: "https://h:1", insecure-skip-tls-verify: true, certificate-authority-data: \(pemB64)}}]
            contexts: [{name: x, context: {cluster: c, namespace: ""}}]
            """, file: "/k")
        #expect {
            _ = try cfg.access()
        } throws: { "\($0)" == "kubeconfig /k: clusters[0].cluster: insecure-skip-tls-verify cannot be combined with a certificate authority" }
    }

    @Test func insecureOnlyWhenSaidExplicitly() throws {
        let cfg = try KubeConfig.parse("""
            current-context: x
            clusters: [{name: c, cluster: {server: "https://h:1", insecure-skip-tls-verify: true}}]
            contexts: [{name: x, context: {cluster: c, namespace: ""}}]
            """, file: "/k")
        #expect(try cfg.access().tls.insecureSkipVerify)
        #expect(try cfg.access().namespace == "default")
    }

    @Test(arguments: [
        ("clusters: [oops", "kubeconfig /k: not valid YAML"),
        ("clusters: [{name: c}]", "kubeconfig /k: clusters[0].cluster: missing"),
        ("clusters: [{cluster: {server: x}}]", "kubeconfig /k: clusters[0].name: missing"),
        ("clusters: {a: b}", "kubeconfig /k: clusters: must be a list"),
        ("users: [{name: u, user: {token: [1, 2]}}]", "kubeconfig /k: users[0].user.token: must be a string"),
        ("- just\n- a list", "kubeconfig /k: the top level must be a mapping"),
    ])
    func malformedFilesNameTheFileAndField(text: String, message: String) {
        #expect {
            _ = try KubeConfig.parse(text, file: "/k")
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func unknownContextListsTheKnownOnes() throws {
        let cfg = try KubeConfig.parse("""
            contexts: [{name: a, context: {cluster: c}}, {name: b, context: {cluster: c}}]
            """, file: "/k")
        #expect(cfg.contextNames == ["a", "b"])
        #expect {
            _ = try cfg.access(context: "zzz")
        } throws: { "\($0)" == "kubeconfig /k: context \"zzz\" not found (known: a, b)" }
    }

    @Test func missingFilesAreNamed() throws {
        #expect {
            _ = try KubeConfig.load(explicitPath: "/nonexistent/config")
        } throws: { "\($0)" == "kubeconfig /nonexistent/config: file not found or not readable" }

        let cfg = try KubeConfig.parse("""
            current-context: x
            clusters: [{name: c, cluster: {server: "https://h:1", certificate-authority: /nope/ca.crt}}]
            contexts: [{name: x, context: {cluster: c}}]
            """, file: "/k")
        #expect {
            _ = try cfg.access()
        } throws: { "\($0)" == "kubeconfig /k: clusters[0].cluster.certificate-authority: file /nope/ca.crt not found or not readable" }
    }

    @Test func aCertificateNeedsItsKey() throws {
        let cfg = try KubeConfig.parse("""
            current-context: x
            clusters: [{name: c, cluster: {server: "https://h:1"}}]
            users: [{name: u, user: {client-certificate-data: \(pemB64)}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            """, file: "/k")
        #expect {
            _ = try cfg.access()
        } throws: { "\($0)".contains("users[0].user: a client certificate needs both client-certificate and client-key") }
    }

    @Test func authProvidersAreRefusedClearly() throws {
        let cfg = try KubeConfig.parse("""
            current-context: x
            clusters: [{name: c, cluster: {server: "https://h:1"}}]
            users: [{name: u, user: {auth-provider: {name: gcp}}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            """, file: "/k")
        #expect {
            _ = try cfg.access()
        } throws: { "\($0)" == "kubeconfig /k: users[0].user.auth-provider: not supported by aviary; use a token, tokenFile, client certificate or exec plugin" }
    }
}

@Suite struct InClusterTests {
    let env = ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"]

    @Test func readsTheServiceAccountDirectory() throws {
        let dir = try TempDir()
        try dir.write("ca.crt", pem)
        try dir.write("token", "t1")
        try dir.write("namespace", "aviary-system\n")
        let access = try InCluster.load(directory: dir.path, environment: env)
        #expect(access.server == "https://10.96.0.1:443")
        #expect(access.namespace == "aviary-system")
        #expect(access.tls.caPEM == Data(pem.utf8))
        #expect(!access.tls.insecureSkipVerify)
        guard case .bearer(let token) = access.credentials else { Issue.record("expected a token"); return }
        #expect(try token.current() == "t1")
    }

    @Test func aMissingCAIsAnErrorNotInsecure() throws {
        let dir = try TempDir()
        try dir.write("token", "t1")
        #expect {
            _ = try InCluster.load(directory: dir.path, environment: env)
        } throws: { "\($0)" == "in-cluster config: cannot read the cluster CA at \(dir.path)/ca.crt" }
    }

    @Test func needsTheServiceEnvironment() throws {
        #expect(!InCluster.isAvailable(environment: [:]))
        #expect(throws: KubeError.self) { _ = try InCluster.load(directory: "/tmp", environment: [:]) }
    }

    @Test func aRotatedTokenIsReadAgain() throws {
        let dir = try TempDir()
        let path = try dir.write("token", "old")
        let source = try TokenSource(file: path)
        #expect(try source.current() == "old")
        try "new".write(toFile: path, atomically: true, encoding: .utf8)
        // A rotation changes the file's modification time; make sure it differs.
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: path)
        #expect(try source.current() == "new")
    }
}
