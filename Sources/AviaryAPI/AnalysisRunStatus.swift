import KubeAPI

/// The phases of a measurement, a metric and a run, worst last.
public enum AnalysisPhase: String, Codable, Sendable, Comparable, CaseIterable {
    case Successful, Running, Pending, Inconclusive, Error, Failed

    private var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }
    public static func < (a: AnalysisPhase, b: AnalysisPhase) -> Bool { a.rank < b.rank }
    public var isTerminal: Bool { self == .Successful || self == .Inconclusive || self == .Error || self == .Failed }
}

/// What an AnalysisRun has measured so far: all a restarted runner needs to go on.
public struct AnalysisRunStatus: Codable, Sendable, Hashable, StatusRepairs {
    public var phase: AnalysisPhase?
    /// Why the run ended as it did, naming the metric, the value and the condition.
    public var message: String?
    public var startedAt: KubeTime?
    public var completedAt: KubeTime?
    /// One line with each metric's latest value, for `kubectl get analysisruns`.
    public var summary: String?
    public var metricResults: [MetricResult]?
    public var runSummary: RunSummary?
    /// dryRun metrics, counted apart: they never decide the run.
    public var dryRunSummary: RunSummary?
    /// Fields that were present but unreadable, so the next write replaces them.
    public var repairs = Unrecorded<[String]>([])

    public init() {}

    enum CodingKeys: String, CodingKey {
        case phase, message, startedAt, completedAt, summary, metricResults, runSummary, dryRunSummary
    }

    /// Field by field: what does not decode reads as absent (see `LenientReader`).
    public init(from decoder: Decoder) throws {
        var r = try LenientReader(decoder, CodingKeys.self)
        phase = r(.phase)
        message = r(.message)
        startedAt = r(.startedAt)
        completedAt = r(.completedAt)
        summary = r(.summary)
        metricResults = r.list(.metricResults)
        runSummary = r(.runSummary)
        dryRunSummary = r(.dryRunSummary)
        repairs = Unrecorded(r.repaired)
    }

    public func result(_ metric: String) -> MetricResult? { metricResults?.first { $0.name == metric } }
}

/// How many metrics ended in each phase.
public struct RunSummary: Codable, Sendable, Hashable {
    public var count = 0, successful = 0, failed = 0, inconclusive = 0, error = 0
    public init() {}

    enum CodingKeys: String, CodingKey { case count, successful, failed, inconclusive, error }

    /// Counts read as `LenientReader.count` does: anything but 0…Int32.max is 0, so sums cannot overflow.
    public init(from decoder: Decoder) throws {
        var r = try LenientReader(decoder, CodingKeys.self)
        count = r.count(.count) ?? 0
        successful = r.count(.successful) ?? 0
        failed = r.count(.failed) ?? 0
        inconclusive = r.count(.inconclusive) ?? 0
        error = r.count(.error) ?? 0
    }
}

/// One metric's measurements and counts. The counts cover every measurement
/// taken; `measurements` keeps only the latest (measurementRetention).
public struct MetricResult: Codable, Sendable, Hashable, StatusRepairs {
    public var name: String
    public var phase: AnalysisPhase
    public var measurements: [AnalysisMeasurement]?
    public var message: String?
    public var count: Int?
    public var successful: Int?
    public var failed: Int?
    public var inconclusive: Int?
    public var error: Int?
    public var consecutiveError: Int?
    /// Successful measurements in a row, for `consecutiveSuccessLimit`.
    public var consecutiveSuccess: Int?
    public var dryRun: Bool?
    public var repairs = Unrecorded<[String]>([])

    public init(name: String, phase: AnalysisPhase = .Pending) {
        self.name = name
        self.phase = phase
    }

    enum CodingKeys: String, CodingKey {
        case name, phase, measurements, message, count, successful, failed, inconclusive, error, consecutiveError, consecutiveSuccess, dryRun
    }

    /// A name is required (an entry without one is dropped by the run's status);
    /// an unreadable phase reads as Pending, and unreadable counts as absent.
    public init(from decoder: Decoder) throws {
        var r = try LenientReader(decoder, CodingKeys.self)
        guard let name: String = r(.name) else {
            throw DecodingError.keyNotFound(CodingKeys.name, .init(codingPath: decoder.codingPath, debugDescription: "a metric result needs a name"))
        }
        self.name = name
        phase = r(.phase) ?? .Pending
        measurements = r.list(.measurements)
        message = r(.message)
        count = r.count(.count)
        successful = r.count(.successful)
        failed = r.count(.failed)
        inconclusive = r.count(.inconclusive)
        error = r.count(.error)
        consecutiveError = r.count(.consecutiveError)
        consecutiveSuccess = r.count(.consecutiveSuccess)
        dryRun = r(.dryRun)
        repairs = Unrecorded(r.repaired)
    }
}

public struct AnalysisMeasurement: Codable, Sendable, Hashable {
    public var phase: AnalysisPhase
    public var message: String?
    public var startedAt: KubeTime?
    public var finishedAt: KubeTime?
    /// The provider's result as text, e.g. `[0.97]` for a one-sample vector.
    public var value: String?
    /// Provider bookkeeping, e.g. the Job a job measurement waits for.
    public var metadata: [String: String]?

    public init(phase: AnalysisPhase, message: String? = nil, startedAt: KubeTime? = nil, finishedAt: KubeTime? = nil,
                value: String? = nil, metadata: [String: String]? = nil) {
        self.phase = phase
        self.message = message
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.value = value
        self.metadata = metadata
    }
}
