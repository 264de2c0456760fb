/// `spec.ttlStrategy` of an AnalysisRun: seconds after it finished that the
/// controller deletes it. The phase-specific one wins over
/// `secondsAfterCompletion`; Failed and Error count as failure.
public struct TTLStrategy: Codable, Sendable, Hashable {
    public var secondsAfterCompletion: Int?
    public var secondsAfterSuccess: Int?
    public var secondsAfterFailure: Int?

    public init(secondsAfterCompletion: Int? = nil, secondsAfterSuccess: Int? = nil, secondsAfterFailure: Int? = nil) {
        self.secondsAfterCompletion = secondsAfterCompletion
        self.secondsAfterSuccess = secondsAfterSuccess
        self.secondsAfterFailure = secondsAfterFailure
    }
}
