import Foundation

/// One circuit per server address. After `threshold` failures in a row the
/// circuit opens: measurements against that server fail at once, saying so,
/// for `coolDown`; then one trial call is let through (half open), and its
/// outcome closes or reopens the circuit. A dead Prometheus is then asked
/// once per cool-down, not once per metric per interval.
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

    public init(threshold: Int = 5, coolDown: Duration = .seconds(20)) {
        self.threshold = threshold
        self.coolDown = coolDown
    }

    /// nil when a call may go ahead; otherwise why not.
    public func refusal(for address: String) -> String? {
        switch circuits[address] ?? .closed(failures: 0) {
        case .closed:
            return nil
        case .halfOpen:
            return "circuit open for \(address): a trial request is in flight"
        case .open(let until):
            if clock.now >= until {
                circuits[address] = .halfOpen
                return nil
            }
            let left = clock.now.duration(to: until).components.seconds + 1
            return "circuit open for \(address) after \(threshold) failures in a row; next try in \(left)s"
        }
    }

    public func record(_ address: String, success: Bool) {
        if success {
            circuits[address] = nil
            return
        }
        switch circuits[address] ?? .closed(failures: 0) {
        case .closed(let failures) where failures + 1 < threshold:
            circuits[address] = .closed(failures: failures + 1)
        default:
            circuits[address] = .open(until: clock.now.advanced(by: coolDown))
        }
    }
}
