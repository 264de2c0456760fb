import Foundation

/// TLS material for one server, all in memory: curl takes it as blobs, so no
/// key ever touches a temporary file.
public struct TLSSettings: Sendable, Hashable {
    public var caPEM: Data?
    public var clientCertPEM: Data?
    public var clientKeyPEM: Data?
    /// Only ever true when a kubeconfig explicitly says `insecure-skip-tls-verify: true`.
    public var insecureSkipVerify: Bool

    public init(caPEM: Data? = nil, clientCertPEM: Data? = nil, clientKeyPEM: Data? = nil, insecureSkipVerify: Bool = false) {
        self.caPEM = caPEM
        self.clientCertPEM = clientCertPEM
        self.clientKeyPEM = clientKeyPEM
        self.insecureSkipVerify = insecureSkipVerify
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

    public init(method: String, url: String, headers: [String] = [], body: Data? = nil, tls: TLSSettings = TLSSettings(),
                timeout: Duration? = .seconds(30), connectTimeout: Duration = .seconds(10)) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.tls = tls
        self.timeout = timeout
        self.connectTimeout = connectTimeout
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
