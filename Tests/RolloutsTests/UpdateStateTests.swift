import AviaryAPI
import KubeAPI
import Testing
@testable import Rollouts

/// The update's state machine on its own: every (phase, intent) pair, the
/// one pause gate, and the round trip through Argo's status fields.
@Suite struct UpdateStateTests {
    static let t0 = KubeTime(secondsSinceEpoch: 1_800_000_000)
    static let now = KubeTime(secondsSinceEpoch: 1_800_000_100)
    static let pause = PauseCondition(reason: .CanaryPauseStep, startTime: t0)

    enum PhaseCase: String, CaseIterable { case progressing, paused, released, aborted }

    static func phase(_ c: PhaseCase) -> UpdatePhase {
        switch c {
        case .progressing: .progressing
        case .paused: .paused(pause)
        case .released: .released
        case .aborted: .aborted(since: t0)
        }
    }

    /// The whole table: what each intent does from each phase, where the
    /// update ends up, and what the transition says.
    static let table: [PhaseCase: [UserIntent: (UpdatePhase, UpdatePosition?, UpdateState.Outcome?)]] = [
        .progressing: [
            .promote: (.progressing, .step(2), nil),
            .promoteFull: (.progressing, .step(5), .promotedFully),
            .abort: (.aborted(since: now), .step(2), .aborted),
            .retry: (.progressing, .step(2), nil),
        ],
        .paused: [
            .promote: (.released, .step(2), .promoted),
            .promoteFull: (.progressing, .step(5), .promotedFully),
            .abort: (.aborted(since: now), .step(2), .aborted),
            .retry: (.paused(pause), .step(2), nil),
        ],
        .released: [
            .promote: (.released, .step(2), nil),
            .promoteFull: (.progressing, .step(5), .promotedFully),
            .abort: (.aborted(since: now), .step(2), .aborted),
            .retry: (.released, .step(2), nil),
        ],
        .aborted: [
            .promote: (.aborted(since: t0), .step(2), nil),
            .promoteFull: (.aborted(since: t0), .step(2), nil),
            .abort: (.aborted(since: t0), .step(2), nil),
            .retry: (.progressing, .step(0), .retried),
        ],
    ]

    @Test(arguments: PhaseCase.allCases, UserIntent.allCases)
    func everyPhaseAndIntent(_ phase: PhaseCase, _ intent: UserIntent) throws {
        let expected = try #require(Self.table[phase]?[intent], "the table has no row for (\(phase), \(intent))")
        var state = UpdateState(phase: Self.phase(phase), position: .step(2))
        let outcome = state.apply(intent, now: Self.now, start: .step(0), skip: { _ in .step(5) })
        #expect(state.phase == expected.0)
        #expect(state.position == expected.1)
        #expect(outcome == expected.2)
    }

    @Test func theGateStartsHoldsAndEndsAPause() {
        var state = UpdateState(phase: .progressing, position: .step(1))
        #expect(state.gate(.CanaryPauseStep, seconds: 30, now: Self.t0) == .started)
        #expect(state.phase == .paused(PauseCondition(reason: .CanaryPauseStep, startTime: Self.t0)))
        #expect(state.gate(.CanaryPauseStep, seconds: 30, now: KubeTime(secondsSinceEpoch: Self.t0.secondsSinceEpoch + 10)) == .holding(remaining: 20))
        #expect(state.gate(.CanaryPauseStep, seconds: 30, now: KubeTime(secondsSinceEpoch: Self.t0.secondsSinceEpoch + 30)) == .expired)
        #expect(state.phase == .progressing)
    }

    @Test func anIndefinitePauseWaitsForAPromote() {
        var state = UpdateState(phase: .progressing)
        #expect(state.gate(.BlueGreenPause, seconds: nil, now: Self.t0) == .started)
        #expect(state.gate(.BlueGreenPause, seconds: nil, now: Self.now) == .holding(remaining: nil))
        state.apply(.promote, now: Self.now, start: .stage(.Preview), skip: { $0 })
        #expect(state.gate(.BlueGreenPause, seconds: nil, now: Self.now) == .released)
        #expect(state.phase == .progressing)
    }

    @Test func anotherPauseHoldsAndAnAbortedUpdateNeverPauses() {
        var paused = UpdateState(phase: .paused(Self.pause))
        #expect(paused.gate(.InconclusiveAnalysisRun, seconds: nil, now: Self.now) == .holding(remaining: nil))
        var aborted = UpdateState(phase: .aborted(since: Self.t0))
        #expect(aborted.gate(.CanaryPauseStep, seconds: 5, now: Self.now) == .holding(remaining: nil))
        #expect(aborted.phase == .aborted(since: Self.t0))
    }

    /// Argo's flags → state and intents → flags.
    @Test func readingTheStatusFields() {
        var s = RolloutStatus()
        s.currentStepIndex = 3
        #expect(UpdateState.read(s, blueGreen: false).0 == UpdateState(phase: .progressing, position: .step(3)))

        s.pauseConditions = [Self.pause]
        s.controllerPause = true
        #expect(UpdateState.read(s, blueGreen: false).0.phase == .paused(Self.pause))

        s.pauseConditions = nil  // what `promote` writes
        let (released, promote) = UpdateState.read(s, blueGreen: false)
        #expect(released.phase == .released)
        #expect(promote == [.promote])

        var a = RolloutStatus()
        a.abort = true
        #expect(UpdateState.read(a, blueGreen: false).1 == [.abort])
        a.abortedAt = Self.t0
        #expect(UpdateState.read(a, blueGreen: false) == (UpdateState(phase: .aborted(since: Self.t0)), []))
        a.abort = false  // what `retry` writes
        #expect(UpdateState.read(a, blueGreen: false).1 == [.retry])

        var full = RolloutStatus()
        full.promoteFull = true
        full.blueGreen = BlueGreenStatus()
        full.blueGreen?.stage = .Preview
        #expect(UpdateState.read(full, blueGreen: true) == (UpdateState(phase: .progressing, position: .stage(.Preview)), [.promoteFull]))
    }

    @Test(arguments: PhaseCase.allCases)
    func writingThenReadingGivesTheSameState(_ phase: PhaseCase) {
        let state = UpdateState(phase: Self.phase(phase), position: .step(4))
        var status = RolloutStatus()
        status.promoteFull = true
        state.write(into: &status)
        #expect(status.promoteFull == nil, "promote-full is an intent, consumed when read")
        let (back, intents) = UpdateState.read(status, blueGreen: false)
        #expect(back == state)
        #expect(intents == (phase == .released ? [.promote] : []))
    }

    /// Combinations that cannot be right are repaired by reading: abort wins.
    @Test func abortAndPromoteFullTogetherAbort() {
        var s = RolloutStatus()
        s.abort = true
        s.promoteFull = true
        s.currentStepIndex = 1
        var (state, intents) = UpdateState.read(s, blueGreen: false)
        for intent in intents { state.apply(intent, now: Self.now, start: .step(0), skip: { _ in .step(9) }) }
        #expect(state == UpdateState(phase: .aborted(since: Self.now), position: .step(1)))
    }
}
