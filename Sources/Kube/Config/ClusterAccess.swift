import Foundation
import Synchronization

/// Everything needed to reach one API server as one identity, resolved from a
/// kubeconfig or from the in-cluster service-account files.
public struct ClusterAccess: Sendable {
    /// "https://host:port", no trailing slash.
    public var server: String
    public var tls: TLSSettings
    public var credentials: Credentials
    /// The namespace a kubeconfig context or the pod's service account names.
    public var namespace: String
    /// Where this came from, for messages: "kubeconfig /root/.kube/config context kind-x" or "in-cluster".
    public var source: String
    /// The API server is spoken to over https only; a plain `http://` server
    /// is refused (a token must not cross the network in clear) unless this
    /// is true, which only `--allow-insecure-http` sets. Default false.
    public var allowInsecureHTTP: Bool
    /// A kubeconfig's `disable-compression: true`: do not ask for gzip.
    /// Default false: gets and lists offer `Accept-Encoding: gzip`, as client-go does.
    public var disableCompression: Bool
    /// Where requests find a proxy. Default: the environment, as kubectl reads it.
    public var proxy: ProxySetting

    public init(server: String, tls: TLSSettings, credentials: Credentials, namespace: String = "default", source: String,
                allowInsecureHTTP: Bool = false, disableCompression: Bool = false, proxy: ProxySetting = .environment) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.tls = tls
        self.credentials = credentials
        self.namespace = namespace
        self.source = source
        self.allowInsecureHTTP = allowInsecureHTTP
        self.disableCompression = disableCompression
        self.proxy = proxy
    }

    /// Loads the in-cluster config when running in a pod, else the kubeconfig.
    /// `allowInsecureHTTP` is `--allow-insecure-http`: without it a kubeconfig
    /// whose server is plain http:// is refused.
    public static func load(kubeconfig: String? = nil, context: String? = nil, allowInsecureHTTP: Bool = false) throws -> ClusterAccess {
        if kubeconfig == nil, context == nil, InCluster.isAvailable() {
            return try InCluster.load()
        }
        return try KubeConfig.load(explicitPath: kubeconfig).access(context: context, allowInsecureHTTP: allowInsecureHTTP)
    }

    /// Why requests to `server` may not be sent, or nil: plain http without
    /// `allowInsecureHTTP`. `field` names where the server came from.
    func insecureHTTPRefusal(field: String) -> String? {
        guard !allowInsecureHTTP, server.lowercased().hasPrefix("http://") else { return nil }
        return "\(field): \"\(server)\" is plain http, so the token or client certificate and every object would cross the network in clear; "
            + "use an https:// server, or pass --allow-insecure-http to allow it"
    }
}

public enum Credentials: Sendable {
    case none
    /// Client certificate: carried in `TLSSettings`.
    case clientCertificate
    case bearer(TokenSource)
    /// A kubeconfig exec plugin: a token and/or a client certificate, fetched
    /// when needed and cached until it expires or the server answers 401.
    case exec(ExecCredentialSource)
}

/// A bearer token, fixed or read from a file that may be rotated underneath us
/// (projected service-account tokens are). A file is read again when its
/// modification time changes or a minute has passed.
public final class TokenSource: Sendable {
    private let fixed: String?
    private let path: String?
    private struct Cache { var token: String; var modified: Date?; var readAt: Date }
    private let cache = Mutex<Cache?>(nil)

    public init(token: String) {
        fixed = token
        path = nil
    }

    public init(file: String) throws {
        fixed = nil
        path = file
        _ = try current()
    }

    public func current() throws -> String {
        if let fixed { return fixed }
        guard let path else { return "" }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]) as? Date
        let now = Date()
        if let cached = cache.withLock({ $0 }), cached.modified == modified, now.timeIntervalSince(cached.readAt) < 60 {
            return cached.token
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeError.config("cannot read token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw KubeError.config("token file \(path) is empty") }
        cache.withLock { $0 = Cache(token: token, modified: modified, readAt: now) }
        return token
    }
}
