import Foundation
import Synchronization

/// A token bucket: `burst` requests at once, then `qps` per second, like
/// client-go's default limiter (5 QPS, burst 10). Waiting is a Task.sleep,
/// never a blocked thread.
public final class RateLimiter: Sendable {
    /// The pure arithmetic, kept apart so it can be tested without a clock.
    public struct Bucket: Sendable {
        public let qps: Double
        public let burst: Double
        var tokens: Double
        var last: Double

        public init(qps: Double, burst: Int, now: Double) {
            self.qps = qps
            self.burst = Double(max(burst, 1))
            self.tokens = self.burst
            self.last = now
        }

        /// Takes one token and returns how long to wait (seconds) before using it.
        /// Tokens may go negative: each later caller queues behind the earlier ones.
        public mutating func reserve(now: Double) -> Double {
            guard qps > 0 else { return 0 }
            tokens = min(burst, tokens + (now - last) * qps)
            last = now
            tokens -= 1
            return tokens >= 0 ? 0 : -tokens / qps
        }
    }

    private let bucket: Mutex<Bucket>

    /// `qps <= 0` disables limiting.
    public init(qps: Double, burst: Int) {
        bucket = Mutex(Bucket(qps: qps, burst: burst, now: Self.now()))
    }

    public func acquire() async throws {
        let wait = bucket.withLock { $0.reserve(now: Self.now()) }
        if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
