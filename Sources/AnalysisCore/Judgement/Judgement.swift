import AviaryAPI
import KubeAPI

/// Argo users' judgement rules, as pure functions.
public enum Judgement {
    /// One measurement: no condition → Successful; only successCondition →
    /// Failed when false; only failureCondition → Successful when false; both
    /// set and neither true → Inconclusive; an evaluation error → Error.
    public static func measurement(result: JSONValue, success: Expression?, failure: Expression?) -> (AnalysisPhase, String?) {
        do {
            switch (success, failure) {
            case (nil, nil):
                return (.Successful, nil)
            case (let s?, nil):
                return try s.condition(result: result) ? (.Successful, nil) : (.Failed, nil)
            case (nil, let f?):
                return try f.condition(result: result) ? (.Failed, nil) : (.Successful, nil)
            case (let s?, let f?):
                if try f.condition(result: result) { return (.Failed, nil) }
                if try s.condition(result: result) { return (.Successful, nil) }
                return (.Inconclusive, nil)
            }
        } catch {
            return (.Error, "\(error)")
        }
    }

    public struct Counts: Sendable, Equatable {
        public var successful = 0, failed = 0, inconclusive = 0, error = 0
        public var consecutiveErrors = 0
        public var consecutiveSuccesses = 0
        public init() {}
    }

    /// One metric from its counts: Failed when failures exceed failureLimit
    /// (−1 disables), Inconclusive when inconclusives exceed inconclusiveLimit,
    /// Error when consecutive errors exceed consecutiveErrorLimit; otherwise
    /// Successful once all measurements are taken, else Running.
    ///
    /// With `consecutiveSuccessLimit` (> 0) the metric is Successful as soon
    /// as that many measurements in a row succeed, count or not. If the count
    /// runs out first, it did not reach its goal: Failed when it was the only
    /// limit (failureLimit −1), Inconclusive when failureLimit applied too
    /// and was not exceeded either.
    public static func metric(_ c: Counts, failureLimit: Int = 0, inconclusiveLimit: Int = 0,
                              consecutiveErrorLimit: Int = 4, consecutiveSuccessLimit: Int = 0, measurementsDone: Bool) -> AnalysisPhase {
        if failureLimit >= 0, c.failed > failureLimit { return .Failed }
        if c.consecutiveErrors > consecutiveErrorLimit { return .Error }
        if c.inconclusive > inconclusiveLimit { return .Inconclusive }
        if consecutiveSuccessLimit > 0 {
            if c.consecutiveSuccesses >= consecutiveSuccessLimit { return .Successful }
            guard measurementsDone else { return .Running }
            return failureLimit >= 0 ? .Inconclusive : .Failed
        }
        return measurementsDone ? .Successful : .Running
    }

    /// A run takes its worst metric; dry-run metrics never decide.
    public static func run(_ metrics: [(phase: AnalysisPhase, dryRun: Bool)]) -> AnalysisPhase {
        metrics.filter { !$0.dryRun }.map(\.phase).max() ?? .Successful
    }
}
