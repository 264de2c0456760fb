import KubeAPI

/// What a failed metric does to the update: an Aviary extension on a metric
/// (Argo ignores the field), so a table of rollback triggers can say
/// "immediate rollback", "gradual rollback" or "alert, then roll back":
/// - `onFailure: abort` (the default): back to stable at once;
/// - `onFailure: gradualAbort`: back to stable by the canary's
///   `abortStrategy.gradual` (its defaults when the Rollout has none);
/// - `onFailure: {notify: <trigger>, thenAbortAfter: 10m}`: the update holds
///   and the trigger's notifications go out at once; the update aborts after
///   the grace period unless someone promotes past it or acknowledges it
///   (`kubectl aviary ack NAME`), which holds it for a person to decide.
public enum OnFailure: Sendable, Hashable, Codable {
    case abort
    case gradualAbort
    case notify(trigger: String, thenAbortAfter: String)
    /// Written, but not one of the above: an InvalidSpec naming it.
    case unreadable(String)

    public init(from decoder: Decoder) throws {
        let value = try JSONValue(from: decoder)
        switch value {
        case .string("abort"): self = .abort
        case .string("gradualAbort"): self = .gradualAbort
        case .object(let o):
            guard let trigger = o["notify"]?.stringValue, !trigger.isEmpty else {
                self = .unreadable("an object needs notify: <trigger>")
                return
            }
            self = .notify(trigger: trigger, thenAbortAfter: o["thenAbortAfter"]?.stringValue ?? "10m")
        case .string(let s): self = .unreadable("\"\(s.prefix(64))\" is not abort, gradualAbort or {notify, thenAbortAfter}")
        default: self = .unreadable("must be abort, gradualAbort or {notify: <trigger>, thenAbortAfter: <duration>}")
        }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .abort: try JSONValue.string("abort").encode(to: encoder)
        case .gradualAbort: try JSONValue.string("gradualAbort").encode(to: encoder)
        case .notify(let trigger, let after): try JSONValue.object(["notify": .string(trigger), "thenAbortAfter": .string(after)]).encode(to: encoder)
        case .unreadable: try JSONValue.null.encode(to: encoder)
        }
    }

    /// How severe: the most severe failed metric decides (abort > gradualAbort > notify).
    public var severity: Int {
        switch self {
        case .abort, .unreadable: 3
        case .gradualAbort: 2
        case .notify: 1
        }
    }
}

/// `kubectl aviary ack NAME` writes the name of the AnalysisRun whose
/// escalation a person takes over: the update then holds past the grace
/// period, until a promote or an abort.
public let acknowledgedAnnotation = "aviary.dev/acknowledged"
