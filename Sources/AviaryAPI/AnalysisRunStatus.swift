import Kube

/// The phases of a measurement, a metric and a run, worst last.
public enum AnalysisPhase: String, Codable, Sendable, Comparable, CaseIterable {
    case Successful, Running, Pending, Inconclusive, Error, Failed

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: AnalysisPhase, b: AnalysisPhase) -> Bool { a.rank < b.rank }
    public var isTerminal: Bool { self == .Successful || self == .Inconclusive || self == .Error || self == .Failed }
}

/// What an AnalysisRun has measured so far: all a restarted runner needs to go on.
public struct AnalysisRunStatus: Codable, Sendable, Hashable {
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

    public init() {}

    public func result(_ metric: String) -> MetricResult? { metricResults?.first { $0.name == metric } }
}

/// How many metrics ended in each phase.
public struct RunSummary: Codable, Sendable, Hashable {
    public var count = 0, successful = 0, failed = 0, inconclusive = 0, error = 0
    public init() {}
}

/// One metric's measurements and counts. The counts cover every measurement
/// taken; `measurements` keeps only the latest (measurementRetention).
public struct MetricResult: Codable, Sendable, Hashable {
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
    public var dryRun: Bool?

    public init(name: String, phase: AnalysisPhase = .Pending) {
        self.name = name
        self.phase = phase
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
