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
    /// A mesh or gateway moves traffic (Istio, Gateway API); without one, pod counts do.
    public var trafficRouting: CanaryTrafficRouting?
    /// Under a router: stable shrinks as its weight falls (Argo's dynamicStableScale).
    public var dynamicStableScale: Bool?
    /// How an abort moves traffic back (an Aviary extension; Argo ignores it).
    public var abortStrategy: AbortStrategy?

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

/// One canary step, decoded once into what it is. Argo's wire format is kept:
/// an object with exactly one of `setWeight`, `pause`, `setCanaryScale` or
/// `analysis`. Anything else (no kind, two kinds, a kind Aviary does not
/// support such as `experiment`) is `.unsupported`, keeping the keys so that
/// validation can name them.
public enum CanaryStep: Codable, Sendable, Hashable {
    case setWeight(Int)
    case pause(PauseStep)
    case setCanaryScale(SetCanaryScale)
    /// Starts an AnalysisRun and waits for it: Successful → next step, Failed or Error → abort, Inconclusive → pause.
    case analysis(RolloutAnalysis)
    /// Under a router: send requests with matching headers to the canary (or, with `name` alone, stop).
    case setHeaderRoute(SetHeaderRoute)
    /// Under a router: mirror matching requests to the canary (or, with `name` alone, stop).
    case setMirrorRoute(SetMirrorRoute)
    case unsupported(kinds: [String])

    public static func weight(_ w: Int) -> CanaryStep { .setWeight(w) }
    public static func pause(_ d: IntOrString? = nil) -> CanaryStep { .pause(PauseStep(duration: d)) }

    private enum Keys: String, CodingKey, CaseIterable { case setWeight, pause, setCanaryScale, analysis, setHeaderRoute, setMirrorRoute }

    public init(from decoder: Decoder) throws {
        let keys = try decoder.container(keyedBy: AnyCodingKey.self).allKeys.map(\.stringValue).sorted()
        let c = try decoder.container(keyedBy: Keys.self)
        guard keys.count == 1, let key = Keys(rawValue: keys[0]) else {
            self = .unsupported(kinds: keys)
            return
        }
        switch key {
        case .setWeight: self = .setWeight(try c.decode(Int.self, forKey: .setWeight))
        case .pause: self = .pause(try c.decode(PauseStep.self, forKey: .pause))
        case .setCanaryScale: self = .setCanaryScale(try c.decode(SetCanaryScale.self, forKey: .setCanaryScale))
        case .analysis: self = .analysis(try c.decode(RolloutAnalysis.self, forKey: .analysis))
        case .setHeaderRoute: self = .setHeaderRoute(try c.decode(SetHeaderRoute.self, forKey: .setHeaderRoute))
        case .setMirrorRoute: self = .setMirrorRoute(try c.decode(SetMirrorRoute.self, forKey: .setMirrorRoute))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch self {
        case .setWeight(let w): try c.encode(w, forKey: .setWeight)
        case .pause(let p): try c.encode(p, forKey: .pause)
        case .setCanaryScale(let s): try c.encode(s, forKey: .setCanaryScale)
        case .analysis(let a): try c.encode(a, forKey: .analysis)
        case .setHeaderRoute(let h): try c.encode(h, forKey: .setHeaderRoute)
        case .setMirrorRoute(let m): try c.encode(m, forKey: .setMirrorRoute)
        case .unsupported: break
        }
    }

    /// The step's kinds as written, for messages.
    public var kinds: [String] {
        switch self {
        case .setWeight: ["setWeight"]
        case .pause: ["pause"]
        case .setCanaryScale: ["setCanaryScale"]
        case .analysis: ["analysis"]
        case .setHeaderRoute: ["setHeaderRoute"]
        case .setMirrorRoute: ["setMirrorRoute"]
        case .unsupported(let kinds): kinds
        }
    }

    /// The pause, if this is a pause step.
    public var pauseStep: PauseStep? {
        if case .pause(let p) = self { return p }
        return nil
    }

    /// The canary scale, if this is a setCanaryScale step.
    public var canaryScale: SetCanaryScale? {
        if case .setCanaryScale(let s) = self { return s }
        return nil
    }

    /// The analysis this step runs, if it is an analysis step.
    public var analysis: RolloutAnalysis? {
        if case .analysis(let a) = self { return a }
        return nil
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
