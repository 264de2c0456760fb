import Foundation
import Testing
@testable import Kube

@Suite struct RetryPolicyTests {
    let policy = RetryPolicy(maxAttempts: 5, baseDelay: 0.2, maxDelay: 10, maxRetryAfter: 30)
    let refused = TransportFailure(kind: .couldNotConnect, server: "https://h", detail: "refused", notSent: true)
    let reset = TransportFailure(kind: .connectionLost, server: "https://h", detail: "reset", notSent: false)

    @Test func honoursRetryAfterOn429ForAnyVerb() {
        #expect(policy.delay(after: .status(429, retryAfter: 3), method: "POST", attempt: 1, jitter: 0.5) == 3)
        #expect(policy.delay(after: .status(429, retryAfter: 3600), method: "GET", attempt: 1, jitter: 0.5) == 30)
    }

    @Test func backsOffExponentiallyWithJitter() {
        let d1 = policy.delay(after: .status(503, retryAfter: nil), method: "GET", attempt: 1, jitter: 0)
        let d3 = policy.delay(after: .status(503, retryAfter: nil), method: "GET", attempt: 3, jitter: 0)
        let d3max = policy.delay(after: .status(503, retryAfter: nil), method: "GET", attempt: 3, jitter: 0.999)
        #expect(d1 == 0.1)
        #expect(d3 == 0.4)
        #expect(d3max! > 0.79 && d3max! < 0.8)
        let late = policy.delay(after: .status(503, retryAfter: nil), method: "GET", attempt: 4, jitter: 1)
        #expect(late! <= 10)
    }

    @Test func writesAreRetriedOnlyWhenTheyCannotHaveLanded() {
        #expect(policy.delay(after: .status(500, retryAfter: nil), method: "POST", attempt: 1, jitter: 0) == nil)
        #expect(policy.delay(after: .status(500, retryAfter: nil), method: "PATCH", attempt: 1, jitter: 0) == nil)
        #expect(policy.delay(after: .transport(reset), method: "POST", attempt: 1, jitter: 0) == nil)
        #expect(policy.delay(after: .transport(refused), method: "POST", attempt: 1, jitter: 0) != nil)
        #expect(policy.delay(after: .transport(reset), method: "PUT", attempt: 1, jitter: 0) != nil)
    }

    @Test func clientErrorsAndExhaustionStop() {
        #expect(policy.delay(after: .status(404, retryAfter: nil), method: "GET", attempt: 1, jitter: 0) == nil)
        #expect(policy.delay(after: .status(409, retryAfter: nil), method: "PUT", attempt: 1, jitter: 0) == nil)
        #expect(policy.delay(after: .status(503, retryAfter: nil), method: "GET", attempt: 5, jitter: 0) == nil)
        let cancelled = TransportFailure(kind: .cancelled, server: "h", detail: "", notSent: true)
        #expect(policy.delay(after: .transport(cancelled), method: "GET", attempt: 1, jitter: 0) == nil)
    }
}

@Suite struct RateLimiterTests {
    @Test func burstThenSteadyRate() {
        var b = RateLimiter.Bucket(qps: 5, burst: 10, now: 0)
        let waits = (0..<12).map { _ in b.reserve(now: 0) }
        #expect(waits.prefix(10).allSatisfy { $0 == 0 })
        #expect(abs(waits[10] - 0.2) < 1e-9)
        #expect(abs(waits[11] - 0.4) < 1e-9)
    }

    @Test func tokensRefillButNeverPastBurst() {
        var b = RateLimiter.Bucket(qps: 10, burst: 2, now: 0)
        _ = b.reserve(now: 0)
        _ = b.reserve(now: 0)
        #expect(b.reserve(now: 100) == 0)
        #expect(b.reserve(now: 100) == 0)
        #expect(b.reserve(now: 100) > 0)
    }

    @Test func waitingReallyWaits() async throws {
        let limiter = RateLimiter(qps: 20, burst: 1)
        let start = ContinuousClock.now
        for _ in 0..<5 { try await limiter.acquire() }
        // 4 waits of 50 ms after the first token.
        #expect(ContinuousClock.now - start >= .milliseconds(190))
    }
}

@Suite struct JSONValueTests {
    @Test func preservedKeepsFieldsTheTypeDoesNotModel() throws {
        let json = #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"x":"1"},"managedFields":[{"manager":"kubectl"}]},"data":{"k":"v"},"binaryData":{"b":"AAE="}}"#
        var p = try JSONDecoder().decode(Preserved<ConfigMap>.self, from: Data(json.utf8))
        p.value.data = ["k": "changed"]
        let out = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(p))
        #expect(out["data"]?["k"] == "changed")
        #expect(out["binaryData"]?["b"] == "AAE=")
        #expect(out["metadata"]?["managedFields"] != nil)
        #expect(out["metadata"]?["labels"]?["x"] == "1")
    }

    @Test func integersStayIntegers() throws {
        let v: JSONValue = ["replicas": 3, "ratio": 0.5]
        #expect(String(decoding: try JSONEncoder().encode(v["replicas"]), as: UTF8.self) == "3")
        #expect(String(decoding: try JSONEncoder().encode(v["ratio"]), as: UTF8.self) == "0.5")
    }
}
