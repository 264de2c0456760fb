import CCurl
import Foundation

/// TLS material for one server, all in memory: curl takes it as blobs, so no
/// key ever touches a temporary file.
public struct TLSSettings: Sendable, Hashable {
    public var caPEM: Data?
    public var clientCertPEM: Data?
    public var clientKeyPEM: Data?
    /// Only ever true when a kubeconfig explicitly says `insecure-skip-tls-verify: true`.
    public var insecureSkipVerify: Bool
    /// The name the server's certificate must carry and the name sent as SNI,
    /// when it differs from the URL's host (a kubeconfig's `tls-server-name`).
    /// Verification stays on; only the name checked changes. See `Transfer`
    /// for how curl is told (CURLOPT_CONNECT_TO).
    public var serverName: String?

    public init(caPEM: Data? = nil, clientCertPEM: Data? = nil, clientKeyPEM: Data? = nil, insecureSkipVerify: Bool = false,
                serverName: String? = nil) {
        self.caPEM = caPEM
        self.clientCertPEM = clientCertPEM
        self.clientKeyPEM = clientKeyPEM
        self.insecureSkipVerify = insecureSkipVerify
        self.serverName = serverName
    }
}

public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    /// Header lines, "Name: value".
    public var headers: [String]
    public var body: Data?
    public var tls: TLSSettings
    /// Whole-request limit; nil for streams that legitimately stay open.
    public var timeout: Duration?
    public var connectTimeout: Duration
    /// Abort when less than one byte arrives in this long: how a half-open
    /// connection (a peer that vanished without a FIN) is noticed.
    public var idleTimeout: Duration?
    /// Offer HTTP/2 (and share a connection). Streams turn it off: pausing one
    /// HTTP/2 stream does not hold back the server the way a paused TCP
    /// connection does, so a watch gets a connection of its own.
    public var http2 = true
    /// The URL schemes curl may speak, as `CURLOPT_PROTOCOLS_STR` reads them:
    /// `HTTPRequest.httpsOnly` for the API server, `HTTPRequest.httpOrHTTPS`
    /// for analysis providers. Anything else (`file:`, `gopher:`, `dict:`, …)
    /// is refused before any I/O. Redirects are never followed, whatever this says.
    public var allowedProtocols: String
    /// Past this many body bytes the transfer is aborted and fails with
    /// `ResponseTooLarge`; the body is never held beyond it. nil: no limit.
    public var maxResponseBytes: Int?
    /// Where the request may connect; nil: anywhere.
    public var addressPolicy: AddressPolicy?
    /// `Accept-Encoding` to offer (CURLOPT_ACCEPT_ENCODING), e.g. "gzip";
    /// curl then decodes the body itself, so the caller always sees plain
    /// bytes (the `content-encoding` header still says what travelled).
    /// nil: ask for nothing, the server sends the body as it is.
    public var acceptEncoding: String?
    /// The proxy: nil leaves curl to its defaults (the `*_proxy` environment
    /// variables as curl reads them, which analysis providers rely on); ""
    /// means none at all, whatever the environment says; anything else is the
    /// proxy URL (http, https, socks5, socks5h), used for every host. The API
    /// server client always decides for itself (`ProxyEnvironment`).
    public var proxy: String?

    public static let httpsOnly = "https"
    public static let httpOrHTTPS = "http,https"
    /// The methods a request may use.
    public static let standardMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    public init(method: String, url: String, headers: [String] = [], body: Data? = nil, tls: TLSSettings = TLSSettings(),
                timeout: Duration? = .seconds(30), connectTimeout: Duration = .seconds(10),
                allowedProtocols: String = HTTPRequest.httpOrHTTPS, maxResponseBytes: Int? = nil, addressPolicy: AddressPolicy? = nil) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.tls = tls
        self.timeout = timeout
        self.connectTimeout = connectTimeout
        self.allowedProtocols = allowedProtocols
        self.maxResponseBytes = maxResponseBytes
        self.addressPolicy = addressPolicy
    }

    /// What a request was checked to be: its scheme and host (as curl's own
    /// URL parser reads them, so the check and the connection agree) and what
    /// the address policy said.
    struct Target {
        var scheme: String
        var host: String
        var verdict: AddressPolicy.Verdict
    }

    /// Checks everything that can be checked without I/O: the scheme, the
    /// method, the header lines, and the host against the address policy.
    /// `CurlEngine` runs it before handing a request to the I/O thread.
    public func validate() throws {
        _ = try target()
    }

    func target() throws -> Target {
        guard Self.standardMethods.contains(method) else {
            throw RequestRefused(.method, "method \"\(method)\" is not allowed; use one of \(Self.standardMethods.sorted().joined(separator: ", "))")
        }
        for line in headers {
            if let problem = Self.headerLineProblem(line) { throw RequestRefused(.header, problem) }
        }
        let (scheme, host) = try Self.schemeAndHost(url)
        let allowed = allowedProtocols.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard allowed.contains(scheme) else {
            throw RequestRefused(.scheme, "the URL scheme \"\(scheme)\" is not allowed; only \(allowed.joined(separator: " and ")) may be used")
        }
        let verdict = addressPolicy?.verdict(host: host) ?? .allowed
        if case .refused(let why) = verdict { throw RequestRefused(.address, why) }
        return Target(scheme: scheme, host: host, verdict: verdict)
    }

    /// The scheme and host as libcurl's URL parser sees them.
    static func schemeAndHost(_ url: String) throws -> (String, String) {
        guard let handle = curl_url() else { throw RequestRefused(.url, "cannot parse the URL: out of memory") }
        defer { curl_url_cleanup(handle) }
        // Any scheme parses, so that an unsupported one gets our message rather than curl's.
        let code = curl_url_set(handle, CURLUPART_URL, url, UInt32(CURLU_NON_SUPPORT_SCHEME))
        guard code == CURLUE_OK else {
            let scheme = url.range(of: "://").map { String(url[..<$0.lowerBound]).lowercased() }
            if let scheme, !scheme.isEmpty, scheme != "http", scheme != "https" {
                throw RequestRefused(.scheme, "the URL scheme \"\(scheme)\" is not allowed; only http and https may be used")
            }
            let hint = url.contains("://") ? "" : " (it needs a scheme, e.g. http://host:port)"
            throw RequestRefused(.url, "the URL is not valid: \(String(cString: curl_url_strerror(code)))\(hint)")
        }
        func part(_ what: CURLUPart) -> String? {
            var out: UnsafeMutablePointer<CChar>?
            guard curl_url_get(handle, what, &out, 0) == CURLUE_OK, let out else { return nil }
            defer { curl_free(out) }
            return String(cString: out)
        }
        guard let scheme = part(CURLUPART_SCHEME)?.lowercased() else { throw RequestRefused(.url, "the URL has no scheme; write http:// or https://") }
        let host = part(CURLUPART_HOST) ?? ""
        if host.isEmpty, scheme == "http" || scheme == "https" { throw RequestRefused(.url, "the URL has no host") }
        return (scheme, host)
    }

    /// Why a header line cannot be sent, or nil. A line is "Name: value";
    /// the name is an HTTP token and nothing may hold CR, LF or NUL, which
    /// would let a value add headers of its own or end the request head.
    static func headerLineProblem(_ line: String) -> String? {
        guard let colon = line.firstIndex(of: ":") else { return "header line \"\(line.prefix(40))\" has no colon" }
        let name = String(line[..<colon])
        if let problem = headerNameProblem(name) { return problem }
        if line.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a || $0 == 0 }) {
            return "header \"\(name)\" has a line break (CR or LF) or NUL in its value; a header value is one line — remove the newline (often the end of a file or Secret)"
        }
        return nil
    }

    /// Why a header name is not an HTTP token, or nil.
    public static func headerNameProblem(_ name: String) -> String? {
        let tchar: (UInt8) -> Bool = { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
        guard !name.isEmpty, name.utf8.allSatisfy(tchar) else {
            let shown = String(decoding: name.utf8.prefix(64).map { (0x20..<0x7f).contains($0) ? $0 : 0x3f }, as: UTF8.self)
            return "header name \"\(shown)\" is not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only, no spaces or line breaks)"
        }
        return nil
    }

    /// scheme://host:port, for messages.
    public var server: String {
        guard let u = URLComponents(string: url), let scheme = u.scheme, let host = u.host else { return url }
        return u.port.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Lower-cased header names.
    public var headers: [String: String]
    public var body: Data

    public init(status: Int, headers: [String: String], body: Data) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// A request refused before anything was sent: a scheme, method or header
/// line that may not be used, or an address the policy does not allow.
public struct RequestRefused: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case url, scheme, method, header, address
    }
    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    public var description: String { message }
}

/// A response body past `HTTPRequest.maxResponseBytes`: the transfer was
/// stopped there and the body dropped.
public struct ResponseTooLarge: Error, Sendable, Equatable, CustomStringConvertible {
    public var server: String
    public var limit: Int
    /// The status the answer's head carried, when it had arrived (a caller that
    /// only needs to know the request was taken, like a notification, reads it).
    public var status: Int?

    public init(server: String, limit: Int, status: Int? = nil) {
        self.server = server
        self.limit = limit
        self.status = status
    }

    public var description: String { "response larger than \(limit) bytes" }

    /// The same refusal: the server and the cap (the status is a detail of when it happened).
    public static func == (a: Self, b: Self) -> Bool { a.server == b.server && a.limit == b.limit }
}
