import Foundation

/// One circuit per namespace and server address. After `threshold` transport
/// failures in a row (connect, resolve, TLS, timeout, connection lost) the
/// circuit opens: measurements against that server fail at once, saying so,
/// for `coolDown`; then one trial call is let through (half open), and its
/// outcome closes or reopens the circuit. A dead Prometheus is then asked
/// once per cool-down, not once per metric per interval. Keyed by namespace,
/// so one tenant's failures never refuse another's measurements, and only
/// transport failures count: any HTTP answer, even a 400 for a bad query,
/// shows the server is up.
public actor CircuitBreaker {
    public let threshold: Int
    public let coolDown: Duration

    enum State: Equatable {
        case closed(failures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen
    }
    private var circuits: [String: State] = [:]
    private let clock = ContinuousClock()
    /// Circuits kept at most; past it, closed and expired ones are forgotten.
    static let maxCircuits = 10_000

    public init(threshold: Int = 5, coolDown: Duration = .seconds(20)) {
        self.threshold = max(1, threshold)
        self.coolDown = coolDown
    }

    static func key(_ namespace: String, _ address: String) -> String { "\(namespace)/\(address)" }

    /// nil when a call may go ahead; otherwise why not.
    public func refusal(for address: String, namespace: String = "") -> String? {
        let key = Self.key(namespace, address)
        switch circuits[key] ?? .closed(failures: 0) {
        case .closed:
            return nil
        case .halfOpen:
            return "circuit open for \(address): a trial request is in flight; measurements resume once it answers"
        case .open(let until):
            if clock.now >= until {
                circuits[key] = .halfOpen
                return nil
            }
            let left = clock.now.duration(to: until).components.seconds + 1
            return "circuit open for \(address) after \(threshold) failures in a row; next try in \(left)s"
        }
    }

    /// Records a call's outcome: `success` is false only for a transport failure.
    public func record(_ address: String, namespace: String = "", success: Bool) {
        let key = Self.key(namespace, address)
        if success {
            circuits[key] = nil
            return
        }
        switch circuits[key] ?? .closed(failures: 0) {
        case .closed(let failures) where failures + 1 < threshold:
            circuits[key] = .closed(failures: failures + 1)
        default:
            circuits[key] = .open(until: clock.now.advanced(by: coolDown))
        }
        if circuits.count > Self.maxCircuits { prune() }
    }

    /// Forgets circuits that would let a call through anyway.
    private func prune() {
        let now = clock.now
        circuits = circuits.filter { _, state in
            switch state {
            case .closed: return false
            case .open(let until): return until > now
            case .halfOpen: return true
            }
        }
    }
}
