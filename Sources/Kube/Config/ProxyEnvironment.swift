import Foundation
import Logging
import Synchronization

/// How requests to the API server find a proxy.
public enum ProxySetting: Sendable, Hashable {
    /// `HTTPS_PROXY`/`https_proxy` (`HTTP_PROXY`/`http_proxy` for an http://
    /// server) and `NO_PROXY`/`no_proxy` from the process's environment, read
    /// as kubectl reads them (`ProxyEnvironment`). The default.
    case environment
    /// A kubeconfig's `proxy-url` (http, https or socks5): every request to
    /// this cluster goes through it, whatever `NO_PROXY` says (as in client-go).
    case url(String)
    /// No proxy, whatever the environment says.
    case direct
}

/// The proxy variables as Go's `http.ProxyFromEnvironment` reads them
/// (golang.org/x/net/http/httpproxy), which is what kubectl and every
/// client-go program honour. libcurl's own reading differs (it ignores
/// `HTTP_PROXY` in capitals, does not exempt loopback, treats `NO_PROXY`
/// entries its own way), so the API server client decides here and tells curl
/// the outcome (`HTTPRequest.proxy`); analysis providers keep curl's defaults.
///
/// - The upper-case name wins over the lower-case one when both are set and
///   non-empty.
/// - A value without a scheme is `http://value`; schemes http, https and
///   socks5 are used (socks5 as curl's socks5h: the proxy resolves the name,
///   as Go's SOCKS dialer has it do); anything else is ignored, with a warning.
/// - `localhost` and loopback addresses (127.0.0.0/8, ::1) never go through
///   a proxy.
/// - `NO_PROXY` is a comma-separated list of: `*` (nothing is proxied); IP
///   addresses, optionally with a port (`10.0.0.1`, `10.0.0.1:6443`,
///   `[::1]:6443`); CIDRs (`10.0.0.0/8`, `fd00::/8`); domain names, optionally
///   with a port: `example.com` matches it and every name under it,
///   `.example.com` and `*.example.com` only names under it. Matching ignores
///   case; malformed entries are skipped.
public struct ProxyEnvironment: Sendable, Equatable {
    /// The raw values, after choosing between upper and lower case.
    public var httpProxy: String
    public var httpsProxy: String
    public var noProxy: String

    /// This process's environment, read once (as Go reads it once).
    public static let process = ProxyEnvironment(environment: ProcessInfo.processInfo.environment)

    public init(environment: [String: String]) {
        func any(_ names: String...) -> String {
            for name in names { if let v = environment[name], !v.isEmpty { return v } }
            return ""
        }
        httpProxy = any("HTTP_PROXY", "http_proxy")
        httpsProxy = any("HTTPS_PROXY", "https_proxy")
        noProxy = any("NO_PROXY", "no_proxy")
    }

    /// The proxy URL for a request to `url`, as curl takes it, or "" for a
    /// direct connection.
    public func proxy(for url: String) -> String {
        guard let (scheme, host, port) = Self.schemeHostPort(url) else { return "" }
        let raw: String, variable: String
        switch scheme {
        case "https": (raw, variable) = (httpsProxy, "HTTPS_PROXY")
        case "http": (raw, variable) = (httpProxy, "HTTP_PROXY")
        default: return ""
        }
        guard !raw.isEmpty else { return "" }
        guard let proxy = Self.proxyURL(raw) else {
            // Go ignores a value it cannot parse; say so once (never the value: it may hold a password).
            Self.warnOnce(variable)
            return ""
        }
        return useProxy(host: host, port: port) ? proxy : ""
    }

    /// Whether a request to host:port goes through the proxy, by NO_PROXY.
    public func useProxy(host rawHost: String, port: String) -> Bool {
        if rawHost == "localhost" { return false }
        let host = rawHost.trimmingCharacters(in: .whitespaces).lowercased()
        let ip = IPAddress(host)
        if let ip, Self.isLoopback(ip) { return false }
        for entry in noProxy.split(separator: ",", omittingEmptySubsequences: true) {
            let p = entry.trimmingCharacters(in: .whitespaces).lowercased()
            if p.isEmpty { continue }
            if p == "*" { return false }
            if p.contains("/"), let network = IPNetwork(p) {
                if let ip, network.contains(ip) { return false }
                continue
            }
            var entryHost = p
            var entryPort = ""
            if let (h, pt) = Self.splitHostPort(p) {
                guard !h.isEmpty else { continue }
                entryHost = h
                entryPort = pt
            }
            if let entryIP = IPAddress(entryHost) {
                if let ip, ip == entryIP, entryPort.isEmpty || entryPort == port { return false }
                continue
            }
            if entryHost.hasPrefix("*.") { entryHost.removeFirst() }
            var matchHost = false
            if !entryHost.hasPrefix(".") {
                matchHost = true
                entryHost = "." + entryHost
            }
            if host.hasSuffix(entryHost) || (matchHost && host == entryHost.dropFirst()) {
                if entryPort.isEmpty || entryPort == port { return false }
            }
        }
        return true
    }

    /// A proxy value as curl takes it, or nil when it cannot be used.
    /// Used for a kubeconfig's `proxy-url` too.
    public static func proxyURL(_ raw: String) -> String? {
        let value = raw.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty, !value.utf8.contains(where: { $0 < 0x21 || $0 == 0x7f }) else { return nil }
        var candidate = value
        if let range = value.range(of: "://") {
            let scheme = value[..<range.lowerBound].lowercased()
            guard ["http", "https", "socks5"].contains(scheme) else { return nil }
            candidate = scheme + value[range.lowerBound...]
        } else {
            candidate = "http://" + value
        }
        guard let parts = URLComponents(string: candidate), let host = parts.host, !host.isEmpty else { return nil }
        // Go's SOCKS5 dialer hands the proxy the name; in curl that is socks5h.
        if candidate.hasPrefix("socks5://") { candidate = "socks5h://" + candidate.dropFirst("socks5://".count) }
        return candidate
    }

    /// Go's net.SplitHostPort for a NO_PROXY entry: "host:port" or
    /// "[v6]:port"; nil when there is no port part (a bare name or a bare
    /// IPv6 address).
    static func splitHostPort(_ text: String) -> (String, String)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            let port = String(rest.dropFirst())
            guard !port.contains(":") else { return nil }
            return (host, port)
        }
        guard let colon = text.lastIndex(of: ":") else { return nil }
        let host = text[..<colon]
        // More than one colon without brackets: an IPv6 address, not host:port.
        guard !host.contains(":") else { return nil }
        return (String(host), String(text[text.index(after: colon)...]))
    }

    static func isLoopback(_ ip: IPAddress) -> Bool {
        if ip.bytes.count == 4 { return ip.bytes.first == 127 }
        return ip.bytes == [UInt8](repeating: 0, count: 15) + [1]
    }

    /// The scheme, host (no brackets, as written) and port (the scheme's
    /// default when the URL has none) of a server URL.
    static func schemeHostPort(_ url: String) -> (String, String, String)? {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), var host = parts.host, !host.isEmpty else {
            return nil
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = parts.port.map(String.init) ?? (scheme == "https" ? "443" : scheme == "http" ? "80" : "")
        return (scheme, host, port)
    }

    private static let warned = Mutex<Set<String>>([])

    private static func warnOnce(_ variable: String) {
        guard warned.withLock({ $0.insert(variable).inserted }) else { return }
        Logger(label: "aviary.kube").warning("ignoring \(variable) (or its lower-case form) from the environment: not an http, https or socks5 proxy URL")
    }
}

extension ClusterAccess {
    /// The proxy requests to this server use, as curl takes it ("" for none).
    func proxyForRequests(environment: ProxyEnvironment = .process) -> String {
        switch proxy {
        case .direct: return ""
        // A kubeconfig's proxy-url was checked when it was read; anything else goes to curl as written, to fail there by name.
        case .url(let url): return ProxyEnvironment.proxyURL(url) ?? url
        case .environment: return environment.proxy(for: server)
        }
    }
}
