/// The largest values Aviary accepts where a user writes a number. Anything
/// beyond is an InvalidSpec (a Rollout) or an Error (an AnalysisRun) naming
/// the field and the value, never an overflow. Each is far beyond any real
/// use; the README's "Security and limits" lists them.
public enum Limits {
    /// A duration (a pause, an interval, a delay, a timeout): one year.
    public static let maxDurationSeconds = 31_536_000
    /// Replicas of one Rollout, and any count derived from them.
    public static let maxReplicas = 1_000_000
    /// A percentage in maxSurge / maxUnavailable.
    public static let maxPercent = 1_000
    /// Canary steps in one Rollout.
    public static let maxSteps = 1_000
    /// A metric's count and its failure, inconclusive and consecutive-error limits.
    public static let maxMeasurementCount = 1_000_000
    /// A revision number read from a ReplicaSet annotation.
    public static let maxRevision = 1_000_000_000
    /// Revision history kept, and AnalysisRun history limits.
    public static let maxHistory = 1_000
}
