/// When and how long to wait before trying a request again.
///
/// Retried: 429 (honouring Retry-After), 5xx, and transport failures — but a
/// request that may have reached the server is retried only when its verb is
/// idempotent (GET, HEAD, PUT, DELETE). A request that provably never left
/// (refused connection, failed handshake) is safe to retry whatever its verb.
public struct RetryPolicy: Sendable {
    public var maxAttempts: Int
    public var baseDelay: Double
    public var maxDelay: Double
    /// Upper bound honoured for a server's Retry-After.
    public var maxRetryAfter: Double

    public init(maxAttempts: Int = 5, baseDelay: Double = 0.2, maxDelay: Double = 10, maxRetryAfter: Double = 30) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
    }

    public static let none = RetryPolicy(maxAttempts: 1)

    public static func isIdempotent(_ method: String) -> Bool {
        ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"].contains(method)
    }

    public enum Outcome: Sendable {
        case status(Int, retryAfter: Double?)
        case transport(TransportFailure)
    }

    /// Seconds to wait before attempt `attempt + 1` (attempt counts from 1), or nil to give up.
    /// `jitter` is a number in [0, 1), injected so tests are exact.
    public func delay(after outcome: Outcome, method: String, attempt: Int, jitter: Double) -> Double? {
        guard attempt < maxAttempts else { return nil }
        switch outcome {
        case .status(let code, let retryAfter):
            guard code == 429 || (500...599).contains(code) else { return nil }
            // A 5xx after a write may mean it was applied; only idempotent verbs go again.
            if code != 429, !Self.isIdempotent(method) { return nil }
            if let retryAfter { return min(max(retryAfter, 0), maxRetryAfter) }
        case .transport(let failure):
            if failure.kind == .cancelled { return nil }
            if !failure.notSent, !Self.isIdempotent(method) { return nil }
        }
        // Exponential backoff with "equal jitter": half fixed, half random.
        let exp = min(maxDelay, baseDelay * Double(1 << min(attempt - 1, 20)))
        return exp / 2 + exp / 2 * jitter
    }
}
