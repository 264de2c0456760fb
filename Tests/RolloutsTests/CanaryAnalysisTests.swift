import AviaryAPI
import KubeAPI
import Testing
@testable import Rollouts

/// The analysis step and background analysis, driven through the planner with
/// the runner's verdicts written by hand.
@Suite struct CanaryAnalysisTests {
    static let successRate = AnalysisTemplate(
        metadata: ObjectMeta(name: "success-rate", namespace: "default"),
        spec: AnalysisSpec(args: [AnalysisArgument(name: "service"), AnalysisArgument(name: "hash")], metrics: [
            Metric(name: "success-rate", interval: "5s", count: 3, successCondition: "result[0] >= 0.95", failureLimit: 1,
                   provider: MetricProvider(prometheus: PrometheusMetric(
                       address: "http://prometheus:9090",
                       query: "sum(rate(http_requests_total{service=\"{{args.service}}\",rollouts_pod_template_hash=\"{{args.hash}}\",status!~\"5..\"}[30s]))"))),
        ]))

    static let analysisStep = CanaryStep.analysis(RolloutAnalysis(
        templates: [AnalysisTemplateRef(templateName: "success-rate")],
        args: [AnalysisArgument(name: "service", value: "web"),
               AnalysisArgument(name: "hash", valueFrom: .init(podTemplateHashValue: "Latest"))]))

    func deployed(_ steps: [CanaryStep], background: RolloutAnalysis? = nil) -> World {
        var w = World(steps: steps)
        w.rollout.spec.strategy?.canary?.analysis = background
        w.templates = TemplateCatalog(namespaced: ["success-rate": Self.successRate])
        w.settle()
        w.setImage("web:2")
        return w
    }

    @Test func anAnalysisStepStartsARunAndWaitsForIt() throws {
        var w = deployed([.weight(20), Self.analysisStep, .weight(60)])
        w.settle()
        let name = "web-\(w.hash("web:2"))-1"
        let run = try #require(w.analysisRuns[name])
        #expect(run.metadata.ownerReferences?.first?.name == "web")
        #expect(run.metadata.labels?[analysisStepLabel] == "1")
        #expect(run.spec.args?.first { $0.name == "hash" }?.value == w.hash("web:2"), "podTemplateHashValue: Latest is the canary's hash")
        #expect(w.status.currentStepIndex == 1)
        #expect(w.status.canary?.currentStepAnalysisRunStatus?.name == name)
        #expect(w.status.phase == .Progressing)
        #expect(w.status.message?.hasPrefix("waiting for analysis run \(name)") == true)
        #expect(w.events.contains("AnalysisRunRunning"))
        // Hours of analysis do not trip the progress deadline.
        w.advance(3600)
        w.settle()
        #expect(w.status.phase == .Progressing)

        w.finishRun(name, .Successful)
        w.settle()
        #expect(w.status.currentStepIndex == 3)
        #expect(w.status.stableRS == w.hash("web:2"))
        #expect(w.events.contains("AnalysisRunSuccessful"))
    }

    @Test func aFailedRunAbortsAndTheMessageSaysWhichMetricValueAndCondition() throws {
        var w = deployed([.weight(20), Self.analysisStep, .weight(60)])
        w.settle()
        let name = "web-\(w.hash("web:2"))-1"
        let why = "success-rate: [0.82] did not satisfy result[0] >= 0.95 (2 failures > failureLimit 1)"
        w.finishRun(name, .Failed, message: why)
        w.settle()
        #expect(w.status.abort == true)
        #expect(w.status.phase == .Degraded)
        #expect(w.status.message == "RolloutAborted: Rollout aborted update to revision 2: analysis run \(name) Failed: \(why)")
        #expect(w.size("web:1") == 10)
        #expect(w.events.contains("AnalysisRunFailed"))

        // Retry starts the steps again with a new run beside the failed one.
        w.rollout.status?.abort = false
        w.settle()
        #expect(w.analysisRuns["\(name).1"] != nil)
        #expect(w.analysisRuns[name]?.phase == .Failed, "the failed run is kept for the record")
    }

    @Test func anErroredRunAbortsToo() {
        var w = deployed([Self.analysisStep])
        w.settle()
        w.finishRun("web-\(w.hash("web:2"))-0", .Error, message: "success-rate: prometheus at http://prometheus:9090: connection refused (5 consecutive errors > consecutiveErrorLimit 4)")
        w.settle()
        #expect(w.status.abort == true)
        #expect(w.status.message?.contains("prometheus at http://prometheus:9090") == true)
    }

    @Test func anInconclusiveRunPausesUntilPromoted() {
        var w = deployed([Self.analysisStep, .weight(50)])
        w.settle()
        w.finishRun("web-\(w.hash("web:2"))-0", .Inconclusive)
        w.settle()
        #expect(w.status.phase == .Paused)
        #expect(w.status.pauseConditions?.map(\.reason) == [.InconclusiveAnalysisRun])
        #expect(w.status.currentStepIndex == 0)
        // A promote removes the pause conditions.
        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(w.status.stableRS == w.hash("web:2"))
    }

    @Test func backgroundAnalysisAbortsAtAnyStepAndIsTerminatedAtPromotion() throws {
        let background = RolloutAnalysis(templates: [AnalysisTemplateRef(templateName: "success-rate")],
                                         args: [AnalysisArgument(name: "service", value: "web"),
                                                AnalysisArgument(name: "hash", valueFrom: .init(podTemplateHashValue: "Stable"))],
                                         startingStep: 1)
        var w = deployed([.weight(20), .pause(), .weight(50), .pause()], background: background)
        w.settle()
        let name = "web-\(w.hash("web:2"))-background"
        #expect(w.status.currentStepIndex == 1)
        let run = try #require(w.analysisRuns[name], "background analysis starts at startingStep")
        #expect(run.spec.args?.first { $0.name == "hash" }?.value == w.hash("web:1"), "Stable is the stable ReplicaSet's hash")

        // Promote through the rest: the background run is terminated once the update is promoted.
        w.rollout.status?.promoteFull = true
        w.settle()
        #expect(w.status.stableRS == w.hash("web:2"))
        #expect(w.analysisRuns[name]?.spec.terminate == true)

        // Next update: a failure at the second pause aborts.
        w.setImage("web:3")
        w.settle()
        w.rollout.status?.pauseConditions = nil
        w.settle()
        #expect(w.status.currentStepIndex == 3)
        w.finishRun("web-\(w.hash("web:3"))-background", .Failed, message: "success-rate: [0.5] did not satisfy result[0] >= 0.95 (2 failures > failureLimit 1)")
        w.settle()
        #expect(w.status.abort == true)
        #expect(w.status.message?.contains("analysis run web-\(w.hash("web:3"))-background Failed") == true)
        #expect(w.size("web:2") == 10)
    }

    @Test(arguments: [
        (AnalysisTemplateRef(templateName: "nope"), "spec.strategy.canary.steps[0].analysis: AnalysisTemplate \"nope\" not found"),
        (AnalysisTemplateRef(templateName: "broken"),
         "spec.strategy.canary.steps[0].analysis: AnalysisTemplate \"broken\": metric \"m\": successCondition: column 12: unexpected end of expression"),
    ])
    func aBadTemplateIsAnInvalidSpecNamingWhereAndNothingStarts(ref: AnalysisTemplateRef, message: String) {
        var w = deployed([CanaryStep.analysis(RolloutAnalysis(templates: [ref]))])
        w.templates.namespaced["broken"] = AnalysisTemplate(
            metadata: ObjectMeta(name: "broken", namespace: "default"),
            spec: AnalysisSpec(metrics: [Metric(name: "m", successCondition: "result[0] >", provider: MetricProvider(web: WebMetric(url: "http://x")))]))
        w.settle()
        #expect(w.status.condition(.InvalidSpec)?.message == message)
        #expect(w.status.phase == .Degraded)
        #expect(w.analysisRuns.isEmpty)
    }

    @Test func aMissingArgumentIsNamed() {
        var w = deployed([CanaryStep.analysis(RolloutAnalysis(templates: [AnalysisTemplateRef(templateName: "success-rate")]))])
        w.settle()
        #expect(w.status.condition(.InvalidSpec)?.message.contains("argument \"service\" has no value") == true)
    }

    @Test func finishedRunsArePrunedToTheHistoryLimits() {
        var w = deployed([Self.analysisStep])
        var history = AnalysisRunHistory()
        history.successfulRunHistoryLimit = 2
        history.unsuccessfulRunHistoryLimit = 1
        w.rollout.spec.analysis = history
        for i in 0..<4 {
            var good = AnalysisRun(metadata: ObjectMeta(name: "old-good-\(i)", namespace: "default"), spec: AnalysisSpec(metrics: []))
            good.metadata.creationTimestamp = KubeTime(secondsSinceEpoch: w.now.secondsSinceEpoch - 100 + Int64(i))
            good.status = AnalysisRunStatus()
            good.status?.phase = .Successful
            w.analysisRuns[good.metadata.name!] = good
            var bad = good
            bad.metadata.name = "old-bad-\(i)"
            bad.status?.phase = .Failed
            w.analysisRuns[bad.metadata.name!] = bad
        }
        w.settle()
        let left = Set(w.analysisRuns.keys.filter { $0.hasPrefix("old-") })
        #expect(left == ["old-good-3", "old-good-2", "old-bad-3"])
    }
}
