/// Every failure the client reports. API errors keep the server's `Status`
/// so callers can branch on reason and code; transport errors name the server
/// and the cause in plain words.
public enum KubeError: Error, Sendable, CustomStringConvertible {
    /// The API server answered with a non-2xx status.
    case api(code: Int, status: Status)
    /// The request never got an HTTP answer: DNS, connect, TLS, timeout, reset.
    case transport(TransportFailure)
    /// The kubeconfig or in-cluster files are unusable.
    case config(String)
    /// A 2xx answer whose body does not decode as expected.
    case decoding(String)

    public var description: String {
        switch self {
        case .api(let code, let status):
            let reason = status.reason.map { " \($0)" } ?? ""
            return "API error \(code)\(reason): \(status.message ?? "(no message)")"
        case .transport(let failure): return failure.description
        case .config(let message): return message
        case .decoding(let message): return "cannot decode response: \(message)"
        }
    }

    public var code: Int? {
        if case .api(let code, _) = self { return code }
        return nil
    }

    public var status: Status? {
        if case .api(_, let status) = self { return status }
        return nil
    }

    public var isNotFound: Bool { code == 404 }
    public var isConflict: Bool { code == 409 }
    public var isForbidden: Bool { code == 403 }
    public var isUnauthorized: Bool { code == 401 }
    /// The resourceVersion asked for is too old (HTTP 410 or an ERROR watch event with code 410).
    public var isGone: Bool { code == 410 }
    public var isAlreadyExists: Bool { code == 409 && status?.reason == "AlreadyExists" }
}

extension Error {
    /// The error as a `KubeError`, if it is one.
    public var kube: KubeError? { self as? KubeError }
}

/// Why a request got no HTTP answer.
public struct TransportFailure: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case couldNotResolve, couldNotConnect, tls, timedOut, connectionLost, cancelled, other
    }

    public var kind: Kind
    public var server: String
    public var detail: String
    /// True when the request provably never reached the server, so any verb may be retried.
    public var notSent: Bool

    public init(kind: Kind, server: String, detail: String, notSent: Bool) {
        self.kind = kind
        self.server = server
        self.detail = detail
        self.notSent = notSent
    }

    public var description: String {
        switch kind {
        case .couldNotResolve: return "cannot resolve the host of \(server): \(detail)"
        case .couldNotConnect: return "cannot connect to \(server): \(detail)"
        case .tls: return "TLS failure talking to \(server): \(detail)"
        case .timedOut: return "request to \(server) timed out: \(detail)"
        case .connectionLost: return "connection to \(server) was lost: \(detail)"
        case .cancelled: return "request to \(server) was cancelled"
        case .other: return "request to \(server) failed: \(detail)"
        }
    }
}
