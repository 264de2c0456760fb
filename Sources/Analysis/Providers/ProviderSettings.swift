import Kube

/// What the controller's flags say about every provider request.
public struct ProviderSettings: Sendable {
    /// `--provider-allow`: where requests may go; nil: anywhere (as Argo).
    public var allow: AddressPolicy?
    /// `--provider-max-response-bytes`: a larger answer is an Error
    /// measurement and is never held in memory past this.
    public var maxResponseBytes: Int

    /// 1 MiB: far more than any Prometheus vector or web check a condition reads.
    public static let defaultMaxResponseBytes = 1 << 20

    public init(allow: AddressPolicy? = nil, maxResponseBytes: Int = ProviderSettings.defaultMaxResponseBytes) {
        self.allow = allow
        self.maxResponseBytes = max(1, maxResponseBytes)
    }
}

/// Every provider request has a timeout: the written one, or the provider's
/// default when it is absent, 0 or negative, and never more than `ceiling`.
public enum ProviderTimeout {
    /// `web.timeoutSeconds` default, as Argo's.
    public static let web = 10
    /// `prometheus.timeout` default.
    public static let prometheus = 30
    /// No measurement holds a bulkhead slot longer than this (5 minutes).
    public static let ceiling = 300

    public static func duration(_ written: Int?, default fallback: Int) -> Duration {
        guard let written, written > 0 else { return .seconds(fallback) }
        return .seconds(min(written, ceiling))
    }
}

/// Header lines from a metric's `headers`, each checked: the name is an
/// HTTP token and the value a single line. An error names the header, never
/// its value (which may hold a secret).
public enum HeaderLines {
    public static func make(_ pairs: [(key: String, value: String)], provider: String) throws -> [String] {
        try pairs.map { pair in
            if let problem = HTTPRequest.headerNameProblem(pair.key) {
                throw ProviderError("\(provider): \(problem)")
            }
            if pair.value.utf8.contains(where: { $0 == 0x0d || $0 == 0x0a || $0 == 0 }) {
                throw ProviderError("\(provider): header \"\(pair.key)\" has a line break (CR or LF) or NUL in its value; "
                                    + "a header value is one line — remove the newline (often the end of a file or Secret the value came from)")
            }
            return "\(pair.key): \(pair.value)"
        }
    }
}
