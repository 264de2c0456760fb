import AviaryAPI
import KubeAPI

/// What `kubectl aviary report` says about one update of a Rollout: how it
/// ended, the versions before and after, what triggered an abort, how long
/// the new version had traffic and at what weight, the timeline, the
/// analysis runs, the events and (when Prometheus answered) how the analysis
/// metrics moved. A value, so `-o json` is its encoding; built by
/// `RolloutReport.build` (pure) and drawn by `ReportText` and `ReportMarkdown`.
public struct RolloutReport: Codable, Sendable, Hashable {
    public enum Outcome: String, Codable, Sendable, Hashable {
        case promoted, aborted, inProgress = "in progress", superseded
    }

    /// One revision: its ReplicaSet, pod-template hash and images.
    public struct Version: Codable, Sendable, Hashable {
        public var revision: Int?
        public var hash: String?
        public var replicaSet: String?
        public var images: [String]
    }

    /// One line of the timeline.
    public struct Entry: Codable, Sendable, Hashable {
        public enum Kind: String, Codable, Sendable, Hashable {
            case started, step, pause, resume, analysisStarted, analysisFinished, aborted, promoted, completed, rollback, other
        }
        public var time: MicroTime?
        public var kind: Kind
        public var text: String
        public var warning: Bool
    }

    /// Why the update was aborted: the run and metric that did it, with what
    /// was measured against which condition, or another cause.
    public struct Trigger: Codable, Sendable, Hashable {
        public var cause: String
        public var run: String?
        public var metric: String?
        public var phase: String?
        public var values: [String]
        public var condition: String?
        public var failed: Int?
        public var errors: Int?
        public var measurements: Int?
        public var limit: String?
        public var message: String?
    }

    /// How long the new version served traffic, and the most it had.
    public struct Traffic: Codable, Sendable, Hashable {
        public var maxWeight: Int
        public var since: KubeTime?
        public var until: KubeTime?
        public var seconds: Int64?
    }

    /// One analysis run of the update.
    public struct Run: Codable, Sendable, Hashable {
        public struct Metric: Codable, Sendable, Hashable {
            public var name: String
            public var phase: String
            public var successful: Int
            public var failed: Int
            public var inconclusive: Int
            public var errors: Int
            public var count: Int
            public var values: [String]
            public var condition: String?
        }
        public var name: String
        public var phase: String
        public var slot: String?
        public var startedAt: KubeTime?
        public var completedAt: KubeTime?
        public var message: String?
        public var metrics: [Metric]
    }

    public struct Event: Codable, Sendable, Hashable {
        public var time: MicroTime?
        public var type: String
        public var reason: String
        public var message: String
    }

    /// A tracked ConfigMap or Secret that differs between the version before
    /// and the one after: key names only (values are `diff`'s business).
    public struct ConfigChange: Codable, Sendable, Hashable {
        public var kind: ConfigKind
        public var source: String
        /// "changed", "added", "removed", "unreadable" (as `ConfigDiff.Source.State`).
        public var state: String
        public var added: [String]
        public var removed: [String]
        public var changed: [String]
        public var note: String?
    }

    public var rollout: String
    public var namespace: String
    public var strategy: String
    public var revision: Int?
    public var outcome: Outcome
    public var startedAt: KubeTime?
    public var endedAt: KubeTime?
    public var before: Version?
    public var after: Version
    public var trigger: Trigger?
    public var traffic: Traffic?
    public var timeline: [Entry]
    public var runs: [Run]
    public var events: [Event]
    public var series: [MetricSeries]
    /// The tracked configuration that changed from `before` to `after`; nil
    /// when either has no config snapshots (tracking off), empty when none changed.
    public var configuration: [ConfigChange]?
    /// What the report could not do (e.g. "Prometheus not reachable at …").
    public var notes: [String]
    public var generatedAt: KubeTime

    // Caps: a report reads what anyone could have written.
    static let maxEvents = 300
    static let maxRuns = 50
    static let maxMetricsPerRun = 20
    static let maxValues = 10
    static let maxReplicaSets = 200
    static let maxTextLength = 400
}

/// Why there is no report, and what to do.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    case noReplicaSets(rollout: String)
    case noUpdateYet(rollout: String, revision: Int?)
    case noSuchRevision(Int, existing: [Int])

    public var description: String {
        switch self {
        case .noReplicaSets(let name):
            return "rollout \(name) has no ReplicaSets yet, so nothing has been deployed: is the controller running? (`kubectl aviary get rollout \(name)`)"
        case .noUpdateYet(let name, let revision):
            return "rollout \(name) has had no update yet: revision \(revision ?? 1) is its first deployment. "
                + "Change its template (e.g. `kubectl aviary set image \(name) CONTAINER=IMAGE`), then report on that update"
        case .noSuchRevision(let n, let existing):
            let list = existing.isEmpty ? "none" : existing.map(String.init).joined(separator: ", ")
            return "no revision \(n): the revisions there are: \(list) (older ones are pruned by revisionHistoryLimit)"
        }
    }
}
