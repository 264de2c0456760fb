import AviaryAPI
import KubeAPI

/// `spec.ttlStrategy`: when a finished AnalysisRun is deleted. Pure, so the
/// controller only asks "when" and deletes.
public enum RunExpiry {
    /// A ttlStrategy field outside 0…one year, named.
    public struct Problem: Error, Equatable, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// Every written field is within 0…`Limits.maxDurationSeconds`.
    public static func check(_ ttl: TTLStrategy?) throws {
        guard let ttl else { return }
        for (field, value) in fields(ttl) {
            guard let value, !(0...Limits.maxDurationSeconds).contains(value) else { continue }
            throw Problem(description: "spec.ttlStrategy.\(field): \(value) is outside 0–\(Limits.maxDurationSeconds) seconds (one year)")
        }
    }

    /// The second (since the epoch) at which the run is to be deleted; nil
    /// while it runs, when it has no ttlStrategy for its phase, or when the
    /// strategy is out of range (the run says so in its message instead).
    /// Successful uses secondsAfterSuccess, Failed and Error
    /// secondsAfterFailure, and any finished phase falls back to
    /// secondsAfterCompletion.
    public static func deleteAt(_ spec: AnalysisSpec, status: AnalysisRunStatus?) -> Int64? {
        guard let ttl = spec.ttlStrategy, (try? check(ttl)) != nil,
              let phase = status?.phase, phase.isTerminal, let completed = status?.completedAt else { return nil }
        let specific: Int?
        switch phase {
        case .Successful: specific = ttl.secondsAfterSuccess
        case .Failed, .Error: specific = ttl.secondsAfterFailure
        default: specific = nil
        }
        guard let seconds = specific ?? ttl.secondsAfterCompletion else { return nil }
        let (at, overflow) = completed.secondsSinceEpoch.addingReportingOverflow(Int64(seconds))
        return overflow ? Int64.max : at
    }

    static func fields(_ ttl: TTLStrategy) -> [(String, Int?)] {
        [("secondsAfterCompletion", ttl.secondsAfterCompletion), ("secondsAfterSuccess", ttl.secondsAfterSuccess),
         ("secondsAfterFailure", ttl.secondsAfterFailure)]
    }
}
