import AnalysisCore
import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Rollouts

/// A metric's `onFailure`: abort, gradual abort, or notify and then abort
/// unless someone promotes or acknowledges; the most severe failed metric decides.
@Suite struct EscalationTests {
    static func template(latency: OnFailure?, errors: OnFailure? = nil) -> AnalysisTemplate {
        var p95 = Metric(name: "p95", interval: "5s", count: 3, successCondition: "result < 2", provider: MetricProvider(prometheus: PrometheusMetric(query: "p95")))
        p95.onFailure = latency
        var rate = Metric(name: "error-rate", interval: "5s", count: 3, successCondition: "result < 0.05", provider: MetricProvider(prometheus: PrometheusMetric(query: "e")))
        rate.onFailure = errors
        return AnalysisTemplate(metadata: ObjectMeta(name: "triggers", namespace: "default"), spec: AnalysisSpec(metrics: [p95, rate]))
    }

    static let step = CanaryStep.analysis(RolloutAnalysis(templates: [AnalysisTemplateRef(templateName: "triggers")]))

    func underAnalysis(_ template: AnalysisTemplate, abortStrategy: AbortStrategy? = nil) -> (World, String) {
        var w = World(steps: [.weight(50), Self.step, .weight(100)])
        w.rollout.metadata.annotations = ["notifications.aviary.dev/subscribe.on-latency-alert.slack": "#oncall"]
        w.rollout.spec.strategy?.canary?.abortStrategy = abortStrategy
        w.templates = TemplateCatalog(namespaced: ["triggers": template])
        w.settle()
        w.setImage("web:2")
        w.settle()
        return (w, "web-\(w.hash("web:2"))-1")
    }

    static func fail(_ w: inout World, _ run: String, metrics: [String]) {
        w.finishRun(run, .Failed, message: "\(metrics.joined(separator: ", ")) failed")
        w.analysisRuns[run]?.status?.metricResults = ["p95", "error-rate"].map {
            MetricResult(name: $0, phase: metrics.contains($0) ? .Failed : .Successful)
        }
    }

    @Test func notifyHoldsTellsTheTriggerThenAbortsAfterTheGracePeriod() throws {
        var (w, run) = underAnalysis(Self.template(latency: .notify(trigger: "on-latency-alert", thenAbortAfter: "10m")))
        Self.fail(&w, run, metrics: ["p95"])
        w.settle()
        #expect(w.status.abort != true)
        #expect(w.status.pauseConditions?.first?.reason == .AnalysisEscalation)
        #expect(w.events.contains("AnalysisEscalated"))
        let owed = try #require(w.status.notifications?.pending?.first { $0.reason == "AnalysisEscalated" })
        #expect(owed.trigger == "on-latency-alert")
        #expect(owed.message.contains("kubectl aviary ack web"))
        #expect(w.lastPlan?.requeueAfter == 600)
        w.advance(599)
        w.settle()
        #expect(w.status.abort != true)
        w.advance(2)
        w.settle()
        #expect(w.status.abort == true)
        #expect(w.size("web:1") == 10)
    }

    @Test func aPromoteGoesPastTheFailure() throws {
        var (w, run) = underAnalysis(Self.template(latency: .notify(trigger: "on-latency-alert", thenAbortAfter: "10m")))
        Self.fail(&w, run, metrics: ["p95"])
        w.settle()
        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(w.status.abort != true)
        #expect(w.status.stableRS == w.hash("web:2"), "promoted past the failed analysis, the update completes")
    }

    @Test func anAcknowledgementHoldsPastTheGracePeriod() throws {
        var (w, run) = underAnalysis(Self.template(latency: .notify(trigger: "on-latency-alert", thenAbortAfter: "1m")))
        Self.fail(&w, run, metrics: ["p95"])
        w.settle()
        let patches = try UserAction.ack.patches(for: w.rollout).get()
        #expect(patches.patches == [.metadata(["annotations": [acknowledgedAnnotation: .string(run)]])])
        w.rollout.metadata.annotations?[acknowledgedAnnotation] = run
        w.advance(3600)
        w.settle()
        #expect(w.status.abort != true)
        #expect(w.status.pauseConditions?.first?.reason == .AnalysisEscalation)
        #expect(throws: Never.self) { try UserAction.ack.patches(for: w.rollout).get() }
    }

    @Test func theMostSevereFailedMetricDecides() {
        var (w, run) = underAnalysis(Self.template(latency: .notify(trigger: "on-latency-alert", thenAbortAfter: "10m"), errors: nil))
        Self.fail(&w, run, metrics: ["p95", "error-rate"])
        w.settle()
        #expect(w.status.abort == true, "error-rate says abort (the default), which wins over notify")
        #expect(!w.events.contains("AnalysisEscalated"))
    }

    @Test func gradualAbortUsesDefaultsWithoutAnAbortStrategy() {
        var (w, run) = underAnalysis(Self.template(latency: nil, errors: .gradualAbort))
        Self.fail(&w, run, metrics: ["error-rate"])
        w.settle(rounds: 3)
        #expect(w.status.abort == true)
        #expect(w.status.canary?.rollback != nil, "rolling back gradually")
    }

    @Test func anExplicitAbortStaysImmediateUnderAGradualAbortStrategy() {
        let gradual = AbortStrategy.gradual(GradualAbort(stepWeight: 10, interval: "30s"))
        var (w, run) = underAnalysis(Self.template(latency: nil, errors: .abort), abortStrategy: gradual)
        Self.fail(&w, run, metrics: ["error-rate"])
        w.settle(rounds: 3)
        #expect(w.status.abort == true)
        #expect(w.status.canary?.rollback == nil, "onFailure: abort is at once")
        // Without onFailure the Rollout's abortStrategy applies, as in Argo.
        var (v, run2) = underAnalysis(Self.template(latency: nil, errors: nil), abortStrategy: gradual)
        Self.fail(&v, run2, metrics: ["error-rate"])
        v.settle(rounds: 3)
        #expect(v.status.canary?.rollback != nil)
    }

    /// An update held by an indefinite pause step, with the p95 alert in the background analysis.
    static func pausedWithBackgroundAlert() -> World {
        var w = World(steps: [.weight(50), .pause(), .weight(100)])
        w.rollout.metadata.annotations = ["notifications.aviary.dev/subscribe.on-latency-alert.slack": "#oncall"]
        w.rollout.spec.strategy?.canary?.analysis = RolloutAnalysis(templates: [AnalysisTemplateRef(templateName: "triggers")])
        w.templates = TemplateCatalog(namespaced: ["triggers": Self.template(latency: .notify(trigger: "on-latency-alert", thenAbortAfter: "10m"))])
        w.settle()
        w.setImage("web:2")
        w.settle()
        return w
    }

    @Test func aBackgroundEscalationTakesOverAPauseStepAndOnePromoteGoesPastIt() throws {
        var w = Self.pausedWithBackgroundAlert()
        #expect(w.status.pauseConditions?.first?.reason == .CanaryPauseStep)
        let run = try #require(w.status.canary?.currentBackgroundAnalysisRunStatus?.name)
        Self.fail(&w, run, metrics: ["p95"])
        w.settle()
        #expect(w.status.pauseConditions?.first?.reason == .AnalysisEscalation, "the alert does not wait for the pause step")
        #expect(w.status.notifications?.pending?.contains { $0.trigger == "on-latency-alert" && $0.run == run } == true)
        w.advance(601)
        w.settle()
        #expect(w.status.abort == true, "the grace period ran from the failure, not from the end of the pause")
    }

    @Test func aPromoteDuringABackgroundEscalationDoesNotAlertAgain() throws {
        var w = Self.pausedWithBackgroundAlert()
        let run = try #require(w.status.canary?.currentBackgroundAnalysisRunStatus?.name)
        Self.fail(&w, run, metrics: ["p95"])
        w.settle()
        w.events.removeAll()
        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(!w.events.contains("AnalysisEscalated"), "promoted past it once: no second alert")
        #expect(w.status.abort != true)
        #expect(w.status.stableRS == w.hash("web:2"))
    }

    @Test func ackWithoutAnEscalationSaysSo() {
        let r = World(steps: []).rollout
        #expect(UserAction.ack.patches(for: r) == .failure(.nothingToAcknowledge))
    }

    @Test func aBadOnFailureIsAnInvalidSpecNamingIt() throws {
        var m = Metric(name: "p95", successCondition: "result < 2", provider: MetricProvider(prometheus: PrometheusMetric(query: "p95")))
        m.onFailure = try JSONDecoder().decode(OnFailure.self, from: Data(#""rollback""#.utf8))
        #expect(throws: MetricSpecError.self) { try MetricPlan(m) }
        m.onFailure = .notify(trigger: "x", thenAbortAfter: "forever")
        #expect(throws: MetricSpecError.self) { try MetricPlan(m) }
    }
}
