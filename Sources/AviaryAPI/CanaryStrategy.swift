import KubeAPI

public struct CanaryStrategy: Codable, Sendable, Hashable {
    public var canaryService: String?
    public var stableService: String?
    public var steps: [CanaryStep]?
    public var maxSurge: IntOrString?
    public var maxUnavailable: IntOrString?
    public var scaleDownDelaySeconds: Int?
    public var abortScaleDownDelaySeconds: Int?
    public var canaryMetadata: PodMetadata?
    public var stableMetadata: PodMetadata?
    /// Background analysis: runs from `startingStep` until the update is promoted; a failure aborts.
    public var analysis: RolloutAnalysis?
    /// Not supported: read only so validation can say so rather than ignore it.
    public var trafficRouting: JSONValue?

    public init(steps: [CanaryStep]? = nil, canaryService: String? = nil, stableService: String? = nil,
                maxSurge: IntOrString? = nil, maxUnavailable: IntOrString? = nil) {
        self.steps = steps
        self.canaryService = canaryService
        self.stableService = stableService
        self.maxSurge = maxSurge
        self.maxUnavailable = maxUnavailable
    }

    public static let defaultMaxSurge = IntOrString.string("25%")
    public static let defaultMaxUnavailable = IntOrString.string("25%")
    public static let defaultScaleDownDelaySeconds = 30
    public static let defaultAbortScaleDownDelaySeconds = 30
}

/// One canary step. Exactly one field is set; anything else is kept so that
/// validation can name a step kind Aviary does not support (e.g. `experiment`).
public struct CanaryStep: Codable, Sendable, Hashable {
    public var setWeight: Int?
    public var pause: PauseStep?
    public var setCanaryScale: SetCanaryScale?
    /// Starts an AnalysisRun and waits for it: Successful → next step, Failed or Error → abort, Inconclusive → pause.
    public var analysis: RolloutAnalysis?
    /// Keys that are not a step kind Aviary knows.
    public var unknownKinds: [String] = []

    public init(setWeight: Int? = nil, pause: PauseStep? = nil, setCanaryScale: SetCanaryScale? = nil, analysis: RolloutAnalysis? = nil) {
        self.setWeight = setWeight
        self.pause = pause
        self.setCanaryScale = setCanaryScale
        self.analysis = analysis
    }

    public static func weight(_ w: Int) -> CanaryStep { CanaryStep(setWeight: w) }
    public static func pause(_ d: IntOrString? = nil) -> CanaryStep { CanaryStep(pause: PauseStep(duration: d)) }

    private enum Keys: String, CodingKey, CaseIterable { case setWeight, pause, setCanaryScale, analysis }
    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        setWeight = try c.decodeIfPresent(Int.self, forKey: .setWeight)
        pause = try c.decodeIfPresent(PauseStep.self, forKey: .pause)
        setCanaryScale = try c.decodeIfPresent(SetCanaryScale.self, forKey: .setCanaryScale)
        analysis = try c.decodeIfPresent(RolloutAnalysis.self, forKey: .analysis)
        let known = Set(Keys.allCases.map(\.rawValue))
        unknownKinds = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).filter { !known.contains($0) }.sorted()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encodeIfPresent(setWeight, forKey: .setWeight)
        try c.encodeIfPresent(pause, forKey: .pause)
        try c.encodeIfPresent(setCanaryScale, forKey: .setCanaryScale)
        try c.encodeIfPresent(analysis, forKey: .analysis)
    }

    /// The step's kinds as written, for messages.
    public var kinds: [String] {
        var k: [String] = []
        if setWeight != nil { k.append("setWeight") }
        if pause != nil { k.append("pause") }
        if setCanaryScale != nil { k.append("setCanaryScale") }
        if analysis != nil { k.append("analysis") }
        return k + unknownKinds
    }
}

/// `pause: {}` waits for a promote; `pause: {duration: 30s}` ends by itself.
public struct PauseStep: Codable, Sendable, Hashable {
    public var duration: IntOrString?

    public init(duration: IntOrString? = nil) { self.duration = duration }

    /// Seconds, or nil for an indefinite pause. "30s", "5m", "1h", "1h30m" or an integer of seconds.
    public func seconds() throws -> Int? {
        guard let duration else { return nil }
        switch duration {
        case .int(let i):
            guard i >= 0 else { throw PauseDurationError(text: String(i)) }
            guard i <= Limits.maxDurationSeconds else { throw PauseDurationError(text: String(i), tooLong: true) }
            return i
        case .string(let s):
            return try DurationText.wholeSeconds(s)
        }
    }
}

public typealias PauseDurationError = DurationError

/// Sets the canary's size apart from its traffic weight.
public struct SetCanaryScale: Codable, Sendable, Hashable {
    public var replicas: Int?
    public var weight: Int?
    public var matchTrafficWeight: Bool?

    public init(replicas: Int? = nil, weight: Int? = nil, matchTrafficWeight: Bool? = nil) {
        self.replicas = replicas
        self.weight = weight
        self.matchTrafficWeight = matchTrafficWeight
    }
}
