import Foundation
import Logging
import Yams

/// A kubeconfig, possibly merged from several files (`KUBECONFIG=a:b`). As in
/// kubectl, the first file to define a cluster, user or context name wins, and
/// the first non-empty current-context wins. Relative paths
/// (certificate-authority, client-certificate, client-key, tokenFile, and an
/// exec command with a slash in it) are resolved against the directory of
/// the file that holds them.
public struct KubeConfig: Sendable {
    struct Entry<T: Sendable>: Sendable {
        var value: T
        var file: String
        var index: Int
    }

    struct Cluster: Sendable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify = false
        var tlsServerName: String?
        var proxyURL: String?
        var disableCompression = false
        /// `extensions[name=client.authentication.k8s.io/exec].extension`, for an exec plugin's cluster info.
        var execExtension: JSONValue?
    }

    struct User: Sendable {
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var token: String?
        var tokenFile: String?
        var exec: ExecConfig?
        var unsupported: String?
    }

    struct Context: Sendable {
        var cluster: String?
        var user: String?
        var namespace: String?
    }

    var clusters: [String: Entry<Cluster>] = [:]
    var users: [String: Entry<User>] = [:]
    var contexts: [String: Entry<Context>] = [:]
    public internal(set) var currentContext: String?
    public internal(set) var files: [String] = []

    /// `explicitPath` (a --kubeconfig flag) beats `KUBECONFIG`, which beats ~/.kube/config.
    public static func load(explicitPath: String? = nil,
                            environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KubeConfig {
        let paths: [String]
        if let explicitPath {
            paths = [explicitPath]
        } else if let list = environment["KUBECONFIG"], !list.isEmpty {
            paths = list.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        } else {
            paths = [(environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"]
        }
        var merged = KubeConfig()
        var found = false
        for path in paths {
            guard let data = FileManager.default.contents(atPath: path) else {
                // kubectl skips missing entries of KUBECONFIG; an explicit file must exist.
                if explicitPath != nil || paths.count == 1 {
                    throw KubeError.config("kubeconfig \(path): file not found or not readable")
                }
                continue
            }
            found = true
            merged.merge(try parse(String(decoding: data, as: UTF8.self), file: path))
        }
        guard found else { throw KubeError.config("kubeconfig: none of \(paths.joined(separator: ":")) could be read") }
        return merged
    }

    /// Parses one file's text; `file` names it in errors and anchors relative paths.
    public static func parse(_ text: String, file: String) throws -> KubeConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw KubeError.config("kubeconfig \(file): not valid YAML: \(error)")
        }
        var config = KubeConfig()
        config.files = [file]
        guard let root else { return config }
        guard root.mapping != nil else { throw KubeError.config("kubeconfig \(file): the top level must be a mapping") }
        let reader = FieldReader(file: file)
        config.currentContext = try reader.string(root, "current-context", at: "current-context")
        for (i, item) in try reader.list(root, "clusters").enumerated() {
            let at = "clusters[\(i)]"
            let name = try reader.requiredString(item, "name", at: "\(at).name")
            guard let body = item["cluster"] else { throw reader.error("\(at).cluster", "missing") }
            var c = Cluster()
            c.server = try reader.string(body, "server", at: "\(at).cluster.server")
            c.certificateAuthority = try reader.string(body, "certificate-authority", at: "\(at).cluster.certificate-authority").map(reader.resolve)
            c.certificateAuthorityData = try reader.string(body, "certificate-authority-data", at: "\(at).cluster.certificate-authority-data")
            c.insecureSkipTLSVerify = try reader.bool(body, "insecure-skip-tls-verify", at: "\(at).cluster.insecure-skip-tls-verify") ?? false
            c.tlsServerName = try reader.string(body, "tls-server-name", at: "\(at).cluster.tls-server-name").flatMap { $0.isEmpty ? nil : $0 }
            if let name = c.tlsServerName, IPAddress(name) == nil, !AddressPolicy.isHostName(name.lowercased()) {
                throw reader.error("\(at).cluster.tls-server-name", "\"\(name.prefix(100))\" is not a host name or IP address")
            }
            c.proxyURL = try reader.string(body, "proxy-url", at: "\(at).cluster.proxy-url").flatMap { $0.isEmpty ? nil : $0 }
            if let proxy = c.proxyURL, let problem = Self.proxyURLProblem(proxy) {
                throw reader.error("\(at).cluster.proxy-url", problem)
            }
            c.disableCompression = try reader.bool(body, "disable-compression", at: "\(at).cluster.disable-compression") ?? false
            for (j, ext) in try reader.list(body, "extensions", at: "\(at).cluster.extensions").enumerated() {
                guard try reader.string(ext, "name", at: "\(at).cluster.extensions[\(j)].name") == Self.execExtensionName,
                      let value = ext["extension"] else { continue }
                do {
                    c.execExtension = try JSONValue(yamlNode: value)
                } catch {
                    throw reader.error("\(at).cluster.extensions[\(j)].extension", "\(error)")
                }
            }
            if config.clusters[name] == nil { config.clusters[name] = Entry(value: c, file: file, index: i) }
        }
        for (i, item) in try reader.list(root, "users").enumerated() {
            let at = "users[\(i)]"
            let name = try reader.requiredString(item, "name", at: "\(at).name")
            guard let body = item["user"] else { throw reader.error("\(at).user", "missing") }
            var u = User()
            u.clientCertificate = try reader.string(body, "client-certificate", at: "\(at).user.client-certificate").map(reader.resolve)
            u.clientCertificateData = try reader.string(body, "client-certificate-data", at: "\(at).user.client-certificate-data")
            u.clientKey = try reader.string(body, "client-key", at: "\(at).user.client-key").map(reader.resolve)
            u.clientKeyData = try reader.string(body, "client-key-data", at: "\(at).user.client-key-data")
            u.token = try reader.string(body, "token", at: "\(at).user.token")
            u.tokenFile = try reader.string(body, "tokenFile", at: "\(at).user.tokenFile").map(reader.resolve)
            if let exec = body["exec"], exec.null == nil {
                u.exec = try reader.exec(exec, at: "\(at).user.exec")
            }
            for unsupported in ["auth-provider", "username"] where body[unsupported] != nil {
                u.unsupported = unsupported
            }
            if config.users[name] == nil { config.users[name] = Entry(value: u, file: file, index: i) }
        }
        for (i, item) in try reader.list(root, "contexts").enumerated() {
            let at = "contexts[\(i)]"
            let name = try reader.requiredString(item, "name", at: "\(at).name")
            guard let body = item["context"] else { throw reader.error("\(at).context", "missing") }
            var c = Context()
            c.cluster = try reader.string(body, "cluster", at: "\(at).context.cluster")
            c.user = try reader.string(body, "user", at: "\(at).context.user")
            c.namespace = try reader.string(body, "namespace", at: "\(at).context.namespace")
            if config.contexts[name] == nil { config.contexts[name] = Entry(value: c, file: file, index: i) }
        }
        return config
    }

    /// Earlier definitions win, as in kubectl.
    mutating func merge(_ later: KubeConfig) {
        clusters.merge(later.clusters) { first, _ in first }
        users.merge(later.users) { first, _ in first }
        contexts.merge(later.contexts) { first, _ in first }
        if currentContext?.isEmpty ?? true { currentContext = later.currentContext }
        files += later.files
    }

    public var contextNames: [String] { contexts.keys.sorted() }

    /// The cluster extension an exec plugin with provideClusterInfo is handed as `spec.cluster.config`.
    static let execExtensionName = "client.authentication.k8s.io/exec"

    /// Why a `proxy-url` cannot be used, or nil (client-go's rules: a URL with scheme http, https or socks5).
    static func proxyURLProblem(_ url: String) -> String? {
        guard let range = url.range(of: "://") else {
            return "\"\(url.prefix(100))\" is not a URL with a scheme; write e.g. http://proxy.example:3128"
        }
        let scheme = url[..<range.lowerBound].lowercased()
        guard ["http", "https", "socks5"].contains(scheme) else {
            return "unsupported scheme \"\(scheme.prefix(20))\"; it must be http, https or socks5"
        }
        guard ProxyEnvironment.proxyURL(url) != nil else { return "\"\(url.prefix(100))\" is not a valid URL" }
        return nil
    }

    /// Resolves a context (the current one by default) into something a client can use.
    /// `allowInsecureHTTP` (`--allow-insecure-http`) lets a plain http:// server through;
    /// `execTimeout` bounds each run of an exec plugin.
    public func access(context name: String? = nil, allowInsecureHTTP: Bool = false,
                       execTimeout: Duration = ExecCredentialSource.defaultTimeout) throws -> ClusterAccess {
        let where_ = files.joined(separator: ":")
        guard let contextName = name ?? (currentContext?.isEmpty == false ? currentContext : nil) else {
            throw KubeError.config("kubeconfig \(where_): current-context is not set and no context was chosen")
        }
        guard let ctx = contexts[contextName] else {
            let known = contextNames.isEmpty ? "none" : contextNames.joined(separator: ", ")
            throw KubeError.config("kubeconfig \(where_): context \"\(contextName)\" not found (known: \(known))")
        }
        let ctxAt = "kubeconfig \(ctx.file): contexts[\(ctx.index)].context"
        guard let clusterName = ctx.value.cluster, let cluster = clusters[clusterName] else {
            throw KubeError.config("\(ctxAt).cluster: cluster \"\(ctx.value.cluster ?? "")\" not found")
        }
        let cAt = "kubeconfig \(cluster.file): clusters[\(cluster.index)].cluster"
        guard let server = cluster.value.server, !server.isEmpty else {
            throw KubeError.config("\(cAt).server: missing")
        }
        guard server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw KubeError.config("\(cAt).server: \"\(server)\" is not an http(s) URL")
        }
        var tls = TLSSettings()
        tls.serverName = cluster.value.tlsServerName
        if cluster.value.insecureSkipTLSVerify, cluster.value.certificateAuthority != nil || cluster.value.certificateAuthorityData != nil {
            throw KubeError.config("\(cAt): insecure-skip-tls-verify cannot be combined with a certificate authority")
        }
        if cluster.value.insecureSkipTLSVerify {
            tls.insecureSkipVerify = true
            Logger(label: "aviary.kube").warning("TLS verification is off for \(server): the kubeconfig says insecure-skip-tls-verify: true")
        }
        if let data = cluster.value.certificateAuthorityData {
            tls.caPEM = try Self.base64(data, at: "\(cAt).certificate-authority-data")
        } else if let path = cluster.value.certificateAuthority {
            tls.caPEM = try Self.file(path, at: "\(cAt).certificate-authority")
        }

        var credentials = Credentials.none
        if let userName = ctx.value.user, !userName.isEmpty {
            guard let user = users[userName] else {
                throw KubeError.config("\(ctxAt).user: user \"\(userName)\" not found")
            }
            let uAt = "kubeconfig \(user.file): users[\(user.index)].user"
            let u = user.value
            if let data = u.clientCertificateData {
                tls.clientCertPEM = try Self.base64(data, at: "\(uAt).client-certificate-data")
            } else if let path = u.clientCertificate {
                tls.clientCertPEM = try Self.file(path, at: "\(uAt).client-certificate")
            }
            if let data = u.clientKeyData {
                tls.clientKeyPEM = try Self.base64(data, at: "\(uAt).client-key-data")
            } else if let path = u.clientKey {
                tls.clientKeyPEM = try Self.file(path, at: "\(uAt).client-key")
            }
            if (tls.clientCertPEM == nil) != (tls.clientKeyPEM == nil) {
                throw KubeError.config("\(uAt): a client certificate needs both client-certificate and client-key")
            }
            if tls.clientCertPEM != nil { credentials = .clientCertificate }
            if let exec = u.exec {
                let info = ExecClusterInfo(server: server, tlsServerName: cluster.value.tlsServerName,
                                           insecureSkipTLSVerify: cluster.value.insecureSkipTLSVerify, certificateAuthorityData: tls.caPEM,
                                           proxyURL: cluster.value.proxyURL, disableCompression: cluster.value.disableCompression,
                                           config: cluster.value.execExtension)
                credentials = .exec(ExecCredentialSource(config: exec, user: userName, cluster: info, timeout: execTimeout))
            }
            // A token beats an exec plugin, as in client-go.
            if let token = u.token, !token.isEmpty {
                credentials = .bearer(TokenSource(token: token))
            } else if let path = u.tokenFile {
                do { credentials = .bearer(try TokenSource(file: path)) } catch {
                    throw KubeError.config("\(uAt).tokenFile: \(error)")
                }
            }
            if case .none = credentials, let unsupported = u.unsupported {
                throw KubeError.config("\(uAt).\(unsupported): not supported by aviary; use a token, tokenFile, client certificate or exec plugin")
            }
        }
        let access = ClusterAccess(server: server, tls: tls, credentials: credentials,
                                   namespace: ctx.value.namespace.flatMap { $0.isEmpty ? nil : $0 } ?? "default",
                                   source: "kubeconfig \(where_) context \(contextName)", allowInsecureHTTP: allowInsecureHTTP,
                                   disableCompression: cluster.value.disableCompression,
                                   proxy: cluster.value.proxyURL.map { .url($0) } ?? .environment)
        if let refusal = access.insecureHTTPRefusal(field: "kubeconfig \(cluster.file): clusters[\(cluster.index)].cluster.server") {
            throw KubeError.config(refusal)
        }
        return access
    }

    private static func base64(_ text: String, at field: String) throws -> Data {
        guard let data = Data(base64Encoded: text.filter { !$0.isWhitespace }) else {
            throw KubeError.config("\(field): not valid base64")
        }
        return data
    }

    private static func file(_ path: String, at field: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeError.config("\(field): file \(path) not found or not readable")
        }
        return data
    }
}

/// Reads typed fields from a YAML node, naming the file and field on failure.
private struct FieldReader {
    let file: String

    func error(_ field: String, _ problem: String) -> KubeError {
        KubeError.config("kubeconfig \(file): \(field): \(problem)")
    }

    func string(_ node: Node, _ key: String, at field: String) throws -> String? {
        guard let value = node[key] else { return nil }
        if value.null != nil { return nil }
        if case .scalar(let s) = value { return s.string }
        throw error(field, "must be a string")
    }

    func requiredString(_ node: Node, _ key: String, at field: String) throws -> String {
        guard let s = try string(node, key, at: field), !s.isEmpty else { throw error(field, "missing") }
        return s
    }

    func bool(_ node: Node, _ key: String, at field: String) throws -> Bool? {
        guard let value = node[key] else { return nil }
        guard let b = value.bool else { throw error(field, "must be true or false") }
        return b
    }

    func list(_ node: Node, _ key: String, at field: String? = nil) throws -> [Node] {
        guard let value = node[key] else { return [] }
        if value.null != nil || value.string == "" { return [] }
        guard let seq = value.sequence else { throw error(field ?? key, "must be a list") }
        return Array(seq)
    }

    func stringList(_ node: Node, _ key: String, at field: String) throws -> [String] {
        try list(node, key, at: field).enumerated().map { i, item in
            if case .scalar(let s) = item, item.null == nil { return s.string }
            throw error("\(field)[\(i)]", "must be a string")
        }
    }

    /// A user's `exec` section, checked as client-go checks it.
    func exec(_ node: Node, at field: String) throws -> ExecConfig {
        guard node.mapping != nil else { throw error(field, "must be a mapping") }
        let supported = "use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1"
        guard let versionText = try string(node, "apiVersion", at: "\(field).apiVersion"), !versionText.isEmpty else {
            throw error("\(field).apiVersion", "missing; \(supported)")
        }
        guard let version = ExecConfig.APIVersion(rawValue: versionText) else {
            let why = versionText == "client.authentication.k8s.io/v1alpha1" ? "no longer supported (Kubernetes 1.24 removed it)" : "not supported"
            throw error("\(field).apiVersion", "\"\(versionText.prefix(100))\" is \(why); \(supported)")
        }
        let command = try requiredString(node, "command", at: "\(field).command")
        let args = try stringList(node, "args", at: "\(field).args")
        var env: [ExecConfig.EnvVar] = []
        for (i, item) in try list(node, "env", at: "\(field).env").enumerated() {
            let name = try requiredString(item, "name", at: "\(field).env[\(i)].name")
            env.append(ExecConfig.EnvVar(name: name, value: try string(item, "value", at: "\(field).env[\(i)].value") ?? ""))
        }
        let installHint = try string(node, "installHint", at: "\(field).installHint")
        let provideClusterInfo = try bool(node, "provideClusterInfo", at: "\(field).provideClusterInfo") ?? false
        let mode: ExecConfig.InteractiveMode
        if let text = try string(node, "interactiveMode", at: "\(field).interactiveMode"), !text.isEmpty {
            guard let m = ExecConfig.InteractiveMode(rawValue: text) else {
                throw error("\(field).interactiveMode", "\"\(text.prefix(100))\" is not one of Never, IfAvailable, Always")
            }
            mode = m
        } else if version == .v1 {
            throw error("\(field).interactiveMode", "missing: client.authentication.k8s.io/v1 requires one of Never, IfAvailable, Always")
        } else {
            mode = .ifAvailable
        }
        // A bare name is looked up on PATH; a path is relative to this file.
        return ExecConfig(apiVersion: version, command: command.contains("/") ? resolve(command) : command, args: args, env: env,
                          installHint: installHint, provideClusterInfo: provideClusterInfo, interactiveMode: mode)
    }

    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        if path.hasPrefix("~/") { return NSHomeDirectory() + path.dropFirst(1) }
        let dir = (file as NSString).deletingLastPathComponent
        return dir.isEmpty ? path : Self.clean(dir + "/" + path)
    }

    /// Go's filepath.Clean, lexically (as client-go joins a kubeconfig's
    /// directory and a relative path): no "." components, ".." taken back
    /// against the one before, no doubled slashes.
    static func clean(_ path: String) -> String {
        let absolute = path.hasPrefix("/")
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != ".." {
                parts.removeLast()
            } else if part == "..", absolute {
                continue
            } else {
                parts.append(part)
            }
        }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}
