import AviaryAPI
import KubeAPI

/// What a user asked for. Argo's CLI (and ours) asks by writing status
/// fields; `UpdateState.read` turns those writes into intents, once.
public enum UserIntent: String, Sendable, CaseIterable {
    /// The pause conditions we set were removed: go past the pause.
    case promote
    /// `status.promoteFull`: skip every remaining step, pause and analysis.
    case promoteFull
    /// `status.abort: true`: back to stable.
    case abort
    /// `status.abort` back to false after an abort: start the update again.
    case retry
}

/// Where an update stands, as one value instead of six status flags.
public enum UpdatePhase: Sendable, Hashable {
    /// Moving: waiting on pods, a step, an analysis.
    case progressing
    /// Held by a pause of ours: a pause step, the blue-green promotion gate, an Inconclusive run.
    case paused(PauseCondition)
    /// A user promoted past our pause; the gate that held it opens once.
    case released
    /// Back on stable since this time, until a retry or a new template.
    case aborted(since: KubeTime)
}

/// How far an update has come: a canary's step, a blue-green stage.
public enum UpdatePosition: Sendable, Hashable {
    case step(Int)
    case stage(BlueGreenStage)
}

/// The update as a state machine: decoded once from Argo's status fields,
/// moved by pure transitions (a user's intent, a gate, an abort), encoded
/// back. Illegal flag combinations cannot be represented, so they are
/// repaired by reading (see `read`).
public struct UpdateState: Sendable, Hashable {
    public var phase: UpdatePhase
    public var position: UpdatePosition?

    public init(phase: UpdatePhase = .progressing, position: UpdatePosition? = nil) {
        self.phase = phase
        self.position = position
    }

    public var isAborted: Bool { if case .aborted = phase { true } else { false } }

    /// The state the status describes, and what a user asked for since.
    /// `abort` with `abortedAt` is aborted; `abortedAt` without `abort` is a
    /// retry; `abort` without `abortedAt` is an abort to begin. Our pause
    /// conditions are a pause; `controllerPause` without them is a promote.
    public static func read(_ status: RolloutStatus, blueGreen: Bool) -> (UpdateState, [UserIntent]) {
        var intents: [UserIntent] = []
        var phase = UpdatePhase.progressing
        if let pause = status.pauseConditions?.first {
            phase = .paused(pause)
        } else if status.controllerPause == true {
            phase = .released
            intents.append(.promote)
        }
        if let since = status.abortedAt {
            phase = .aborted(since: since)
            if status.abort != true { intents.append(.retry) }
        } else if status.abort == true {
            intents.append(.abort)
        }
        if status.promoteFull == true { intents.append(.promoteFull) }
        let position: UpdatePosition? = blueGreen
            ? status.blueGreen?.stage.map(UpdatePosition.stage)
            : status.currentStepIndex.map(UpdatePosition.step)
        return (UpdateState(phase: phase, position: position), intents)
    }

    /// Writes the state back into Argo's fields; nothing else in a plan writes them.
    public func write(into status: inout RolloutStatus) {
        switch phase {
        case .progressing:
            status.pauseConditions = nil
            status.controllerPause = nil
            status.abort = nil
            status.abortedAt = nil
        case .paused(let pause):
            status.pauseConditions = [pause]
            status.controllerPause = true
            status.abort = nil
            status.abortedAt = nil
        case .released:
            status.pauseConditions = nil
            status.controllerPause = true
            status.abort = nil
            status.abortedAt = nil
        case .aborted(let since):
            status.pauseConditions = nil
            status.controllerPause = nil
            status.abort = true
            status.abortedAt = since
        }
        status.promoteFull = nil  // an intent, consumed when read
        switch position {
        case .step(let i)?: status.currentStepIndex = i
        case .stage(let s)?:
            if status.blueGreen == nil { status.blueGreen = BlueGreenStatus() }
            status.blueGreen?.stage = s
        case nil: break
        }
    }

    // MARK: transitions

    /// What a transition did, for the lifecycle to say in an event.
    public enum Outcome: Sendable, Hashable {
        case aborted, retried, promoted, promotedFully
    }

    /// Applies a user's intent. `start` is where a retried update begins;
    /// `skip` is where promote-full takes it from a position.
    @discardableResult
    public mutating func apply(_ intent: UserIntent, now: KubeTime, start: UpdatePosition,
                               skip: (UpdatePosition?) -> UpdatePosition?) -> Outcome? {
        switch (phase, intent) {
        case (.aborted, .retry):
            phase = .progressing
            position = start
            return .retried
        case (.aborted, _):
            return nil  // aborted stays aborted until a retry or a new template; abort wins over promote-full
        case (_, .retry):
            return nil  // nothing to retry
        case (_, .abort):
            phase = .aborted(since: now)
            return .aborted
        case (.paused, .promote):
            phase = .released
            return .promoted
        case (_, .promote):
            return nil  // released already, or nothing holds the update
        case (_, .promoteFull):
            phase = .progressing
            position = skip(position)
            return .promotedFully
        }
    }

    /// The controller aborts (an analysis failed, the deadline passed with progressDeadlineAbort).
    public mutating func abort(now: KubeTime) {
        if !isAborted { phase = .aborted(since: now) }
    }

    /// A new template (or new steps): the update starts over, not paused, not aborted.
    public mutating func restart(at start: UpdatePosition) {
        phase = .progressing
        position = start
    }

    /// The update is done (promoted, or the template went back to stable): nothing is held.
    public mutating func finish(at position: UpdatePosition?) {
        phase = .progressing
        self.position = position
    }

    /// What a gate decided.
    public enum Gate: Sendable, Hashable {
        /// The pause began now.
        case started
        /// Still held; with a duration, this many seconds remain.
        case holding(remaining: Int64?)
        /// Its time is up.
        case expired
        /// A user promoted past it.
        case released
    }

    /// The one pause mechanism (pause steps, the blue-green promotion gate,
    /// an Inconclusive run): start the pause, hold it, end it when its time
    /// is up or a user promotes. Open when it returns `expired` or `released`.
    public mutating func gate(_ reason: PauseCondition.Reason, seconds: Int?, now: KubeTime) -> Gate {
        switch phase {
        case .released:
            phase = .progressing
            return .released
        case .paused(let pause) where pause.reason == reason:
            guard let seconds else { return .holding(remaining: nil) }
            let end = pause.startTime.secondsSinceEpoch + Int64(seconds)
            if now.secondsSinceEpoch >= end {
                phase = .progressing
                return .expired
            }
            return .holding(remaining: end - now.secondsSinceEpoch)
        case .paused:
            return .holding(remaining: nil)  // another pause holds the update
        case .aborted:
            return .holding(remaining: nil)
        case .progressing:
            phase = .paused(PauseCondition(reason: reason, startTime: now))
            return .started
        }
    }
}

extension UpdateState.Gate {
    public var isOpen: Bool { self == .expired || self == .released }
}
