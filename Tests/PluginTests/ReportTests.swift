import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Plugin

/// `report`: golden text, markdown and JSON for a canary aborted by analysis
/// and one promoted, with a Prometheus series; the brief summary for the
/// on-rollout-aborted notification; and garbage that must not trap.
@Suite struct ReportTests {
    static let t0: Int64 = 1_795_341_600 // 2026-11-22T10:00:00Z

    static func at(_ s: Int64) -> KubeTime { KubeTime(secondsSinceEpoch: t0 + s) }

    static func replicaSet(_ hash: String, image: String, revision: Int, desired: Int, created: Int64) -> ReplicaSet {
        var rs = ReplicaSet(
            metadata: ObjectMeta(name: "web-\(hash)", namespace: "shop", labels: [podTemplateHashLabel: hash],
                                 annotations: [revisionAnnotation: String(revision)]),
            spec: ReplicaSet.Spec(replicas: desired, selector: LabelSelector(matchLabels: ["app": "web"]),
                                  template: ["spec": ["containers": [["name": "web", "image": .string(image)]]]]))
        rs.metadata.creationTimestamp = at(created)
        rs.status = .init(replicas: desired, readyReplicas: desired, availableReplicas: desired)
        return rs
    }

    static var replicaSets: [ReplicaSet] {
        [replicaSet("old", image: "web:1.0", revision: 1, desired: 0, created: -1200),
         replicaSet("aaa", image: "web:2.0", revision: 2, desired: 5, created: -600),
         replicaSet("bbb", image: "web:3.0", revision: 3, desired: 0, created: 0)]
    }

    static func rollout(aborted: Bool) -> Rollout {
        var r = Rollout(metadata: ObjectMeta(name: "web", namespace: "shop"),
                        spec: RolloutSpec(replicas: 5, template: ["spec": ["containers": [["name": "web", "image": "web:3.0"]]]],
                                          strategy: RolloutStrategy(canary: CanaryStrategy(steps: [.setWeight(20), .analysis(RolloutAnalysis()), .setWeight(60)]))))
        r.metadata.uid = "uid-web"
        r.metadata.generation = 3
        var s = RolloutStatus()
        s.observedGeneration = 3
        s.currentPodHash = "bbb"
        if aborted {
            s.phase = .Degraded
            s.stableRS = "aaa"
            s.abort = true
            s.abortedAt = at(30)
            s.currentStepIndex = 1
        } else {
            s.phase = .Healthy
            s.stableRS = "bbb"
            s.currentStepIndex = 3
        }
        r.status = s
        return r
    }

    static func run(failed: Bool) -> AnalysisRun {
        var metric = Metric(name: "success-rate", interval: "5s", successCondition: "result[0] >= 0.95", failureLimit: .int(3),
                            provider: MetricProvider(prometheus: PrometheusMetric(address: "http://prometheus:9090", query: "sum(rate(ok[1m])) / sum(rate(all[1m]))")))
        metric.count = .int(4)
        var run = AnalysisRun(metadata: ObjectMeta(name: "web-bbb-1", namespace: "shop", labels: [podTemplateHashLabel: "bbb", analysisStepLabel: "1"]),
                              spec: AnalysisSpec(metrics: [metric]))
        run.metadata.creationTimestamp = at(10)
        var st = AnalysisRunStatus()
        st.phase = failed ? .Failed : .Successful
        st.startedAt = at(10)
        st.completedAt = at(28)
        var result = MetricResult(name: "success-rate", phase: failed ? .Failed : .Successful)
        let value = failed ? "[0.5]" : "[1]"
        result.measurements = (0..<4).map { i in
            AnalysisMeasurement(phase: failed ? .Failed : .Successful, startedAt: at(10 + Int64(i) * 5), finishedAt: at(10 + Int64(i) * 5), value: value)
        }
        result.count = 4
        result.failed = failed ? 4 : 0
        result.successful = failed ? 0 : 4
        if failed {
            result.message = "[0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)"
            st.message = "success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)"
        }
        st.metricResults = [result]
        run.status = st
        return run
    }

    static func event(_ seconds: Double, _ reason: String, _ message: String, warning: Bool = false, name: String = "web") -> ReportEvent {
        ReportEvent(reason: reason, message: message, type: warning ? "Warning" : "Normal",
                    eventTime: MicroTime(microsecondsSinceEpoch: (t0 * 1_000_000) + Int64(seconds * 1_000_000)),
                    involvedObject: .init(kind: "Rollout", name: name, namespace: "shop", uid: name == "web" ? "uid-web" : "uid-other"))
    }

    static var commonEvents: [ReportEvent] {
        [event(-700, "RolloutCompleted", "Rollout completed: revision 2 is stable with 5 available pods"),
         event(0.1, "RolloutUpdated", "Rollout updated to a new template (hash bbb)"),
         event(0.2, "NewReplicaSetCreated", "Created ReplicaSet web-bbb (revision 3) with size 1"),
         event(8, "RolloutStepCompleted", "Rollout step 1/3 completed (setWeight 20)"),
         event(10, "AnalysisRunRunning", "Started analysis run web-bbb-1 (step 2)"),
         event(12, "RolloutUpdated", "someone else's", name: "api")]
    }

    static var abortedEvents: [ReportEvent] {
        commonEvents + [
            event(29, "AnalysisRunFailed", "Analysis run web-bbb-1 failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)", warning: true),
            event(30, "RolloutAborted", "Rollout aborted update to revision 3: analysis run web-bbb-1 Failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)", warning: true),
            event(35, "ScalingReplicaSet", "Scaled down ReplicaSet web-bbb from 1 to 0"),
        ]
    }

    static var promotedEvents: [ReportEvent] {
        commonEvents + [
            event(29, "AnalysisRunSuccessful", "Analysis run web-bbb-1 succeeded"),
            event(29.5, "RolloutStepCompleted", "Rollout step 2/3 completed (analysis)"),
            event(31, "RolloutStepCompleted", "Rollout step 3/3 completed (setWeight 60)"),
            event(40, "RolloutPromoted", "Promoted ReplicaSet web-bbb (revision 3) to stable"),
            event(45, "RolloutCompleted", "Rollout completed: revision 3 is stable with 5 available pods"),
        ]
    }

    static func series(aborted: Bool) -> MetricSeries {
        let values: [Double?] = aborted ? [1, 1, 1, 1, 0.9, 0.7, 0.5, 0.5, 0.5, nil, 0.5, 1, 1] : [1, 1, 1, 1, 0.99, 1, 1, 0.98, 1, 1, 1, 1, 1]
        return MetricSeries(metric: "success-rate", query: "sum(rate(ok[1m])) / sum(rate(all[1m]))", step: 5,
                            points: values.enumerated().map { MetricSeries.Point(time: t0 - 10 + Int64($0.offset) * 5, value: $0.element) })
    }

    static func report(aborted: Bool) throws -> RolloutReport {
        var rs = replicaSets
        if !aborted { rs[1].spec.replicas = 0; rs[2].spec.replicas = 5 }
        return try RolloutReport.build(.init(rollout: rollout(aborted: aborted), replicaSets: rs, analysisRuns: [run(failed: aborted)],
                                             events: aborted ? abortedEvents : promotedEvents, series: [series(aborted: aborted)], now: at(120)))
    }

    /// Writes what was rendered when AVIARY_GOLDEN_OUT is set (to refresh a golden by hand).
    static func dump(_ name: String, _ text: String) {
        guard let dir = ProcessInfo.processInfo.environment["AVIARY_GOLDEN_OUT"] else { return }
        try? text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    }

    @Test func abortedByAnalysisText() throws {
        let text = ReportText.render(try Self.report(aborted: true))
        Self.dump("aborted.txt", text)
        #expect(text == Self.abortedText)
    }

    @Test func abortedByAnalysisMarkdown() throws {
        let md = ReportMarkdown.render(try Self.report(aborted: true))
        Self.dump("aborted.md", md)
        #expect(md == Self.abortedMarkdown)
    }

    @Test func promotedText() throws {
        let text = ReportText.render(try Self.report(aborted: false))
        Self.dump("promoted.txt", text)
        #expect(text == Self.promotedText)
    }

    @Test func json() throws {
        let report = try Self.report(aborted: true)
        let json = report.json()
        Self.dump("aborted.json", json)
        let back = try JSONDecoder().decode(RolloutReport.self, from: Data(json.utf8))
        #expect(back == report, "-o json is the report itself")
        #expect(json.contains("\"outcome\" : \"aborted\""))
        #expect(json.contains("\"maxWeight\" : 20"))
        #expect(json.contains("\"value\" : 0.5"))
        #expect(json.contains("\"time\" : \"2026-11-22T10:00:30.000000Z\""))
    }

    @Test func brief() throws {
        let text = RolloutReport.brief(rollout: Self.rollout(aborted: true), analysisRuns: [Self.run(failed: true)], now: Self.at(120))
        Self.dump("brief.txt", text)
        #expect(text == """
            Rollout shop/web aborted the update to web:3.0 (pod template hash bbb); traffic went back to stable aaa.
            Trigger: analysis run web-bbb-1 Failed on metric success-rate, measured [0.5], [0.5], [0.5], [0.5]; success when result[0] >= 0.95; 4 failed of 4 measurements (failureLimit 3).
            Traffic: web:3.0 had up to 20% of the traffic for at least 20s (from its first analysis run to the abort).
            Details: kubectl aviary report web -n shop
            """)
    }

    @Test func whichUpdate() throws {
        let r = Self.rollout(aborted: true)
        let input = RolloutReport.Input(rollout: r, replicaSets: Self.replicaSets, analysisRuns: [Self.run(failed: true)], events: Self.abortedEvents, now: Self.at(120))
        // Revision 2: promoted (it is stable), before it revision 1, and its window ends where revision 3 began.
        var two = input
        two.revision = 2
        let report = try RolloutReport.build(two)
        #expect(report.outcome == .promoted && report.before?.revision == 1 && report.after.images == ["web:2.0"])
        #expect(try RolloutReport.scope(two).end == Self.at(0))
        // Still going: at the analysis step, 20 % so far.
        var going = input
        going.rollout.status?.abort = nil
        going.rollout.status?.abortedAt = nil
        going.rollout.status?.phase = .Progressing
        going.analysisRuns = []
        going.events = Array(Self.commonEvents.prefix(4))
        let progress = try RolloutReport.build(going)
        #expect(progress.outcome == .inProgress && progress.trigger == nil && progress.traffic?.maxWeight == 20)
        #expect(ReportText.render(progress).contains("Traffic:     web:3.0 had up to 20% of the traffic for 1m52s so far\n"))
        var missing = input
        missing.revision = 7
        #expect(throws: ReportError.noSuchRevision(7, existing: [1, 2, 3])) { try RolloutReport.build(missing) }
        // One ReplicaSet and nothing else: no update yet.
        var first = input
        first.replicaSets = [Self.replicaSet("old", image: "web:1.0", revision: 1, desired: 5, created: 0)]
        first.analysisRuns = []
        first.rollout.status?.currentPodHash = "old"
        #expect(throws: ReportError.noUpdateYet(rollout: "web", revision: 1)) { try RolloutReport.build(first) }
        var none = input
        none.replicaSets = []
        #expect(throws: ReportError.noReplicaSets(rollout: "web")) { try RolloutReport.build(none) }
        #expect(ReportError.noUpdateYet(rollout: "web", revision: 1).description.contains("kubectl aviary set image web"))
    }

    /// Events expire (an hour by default): the runs and the Rollout's status still tell the story.
    @Test func withoutEventsTheRunsAndTheStatusTell() throws {
        let report = try RolloutReport.build(.init(rollout: Self.rollout(aborted: true), replicaSets: Self.replicaSets,
                                                   analysisRuns: [Self.run(failed: true)], events: [], now: Self.at(120)))
        #expect(report.timeline.map(\.text) == [
            "update started: revision 3 (web:3.0), replacing revision 2 (web:2.0)",
            "analysis run web-bbb-1 started (step 2)",
            "analysis run web-bbb-1 Failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)",
            "update aborted",
        ])
        #expect(report.traffic == .init(maxWeight: 20, since: Self.at(0), until: Self.at(30), seconds: 30))
        #expect(ReportText.render(report).contains("Events\n  none left in the window (the API server keeps events for an hour by default)\n"))
    }

    @Test func sparkline() {
        #expect(Sparkline.render([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█")
        #expect(Sparkline.render([1, nil, .nan, 1]) == "▄  ▄")
        #expect(Sparkline.render([]) == "")
        #expect(Sparkline.render(Array(repeating: 0.5, count: 1000), width: 10).count == 10)
        #expect(Sparkline.render([-Double.greatestFiniteMagnitude, Double.greatestFiniteMagnitude, 0]) == "▁▁▁", "a range too wide for a Double draws flat, no trap")
        #expect(Sparkline.render([1, 2], width: -5).count == 1)
    }

    @Test func rangeQueryAnswer() throws {
        let body = #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1795341600,"1"],[1795341605.5,"NaN"],[1795341610,"0.5"],["x","1"],[1e300,"1"]]},{"metric":{},"values":[]}]}}"#
        let parsed = try RangeQuery.parse(Data(body.utf8))
        #expect(parsed.points == [.init(time: 1_795_341_600, value: 1), .init(time: 1_795_341_605, value: nil), .init(time: 1_795_341_610, value: 0.5)])
        #expect(parsed.seriesCount == 2)
        #expect(throws: RangeQuery.Failure("bad_data: parse error")) { try RangeQuery.parse(Data(#"{"status":"error","errorType":"bad_data","error":"parse error"}"#.utf8)) }
        #expect(throws: RangeQuery.Failure("the answer is not JSON")) { try RangeQuery.parse(Data("<html>".utf8)) }
        let w = RangeQuery.window(start: 100, end: 700)
        #expect(w.start == 100 && w.end == 700 && w.step == 10)
        #expect(RangeQuery.window(start: 5, end: 5).step == 1)
        #expect(RangeQuery.window(start: Int64.min, end: Int64.max).step > 0)
    }

    /// Garbage from the cluster: times, numbers, sizes anyone could write. No trap, bounded output.
    @Test func hostileInputNeverTraps() throws {
        let garbageEvent = #"{"metadata":{"name":7,"creationTimestamp":"yesterday"},"reason":["x"],"message":42,"type":"Warning","eventTime":"2026-13-45T99:99:99Z","firstTimestamp":"9999-12-31T23:59:59Z","lastTimestamp":12,"involvedObject":"Rollout"}"#
        let e = try JSONDecoder().decode(ReportEvent.self, from: Data(garbageEvent.utf8))
        #expect(e.reason == nil && e.message == nil && e.eventTime == nil && e.involvedObject == nil && e.micros != nil)
        let events = try JSONDecoder().decode(ObjectList<ReportEvent>.self, from: Data(#"{"items":[\#(garbageEvent),{},[],"x",null]}"#.utf8))
        #expect(events.items.count >= 2)

        var r = Self.rollout(aborted: true)
        r.metadata.name = String(repeating: "w", count: 100_000)
        r.status?.currentStepIndex = Int.max
        r.status?.abortedAt = KubeTime(secondsSinceEpoch: Int64.min)
        r.status?.canary = CanaryStatus(weights: .init(canary: .init(weight: Int.min, podTemplateHash: "bbb"), stable: .init(weight: Int.max, podTemplateHash: "aaa")))
        r.spec.strategy?.canary?.steps = [.setWeight(Int.max), .setWeight(Int.min), .pause(PauseStep()), .unsupported(kinds: ["x"])]
        var sets = Self.replicaSets
        sets[2].metadata.creationTimestamp = KubeTime(secondsSinceEpoch: Int64.max)
        sets[1].metadata.annotations = [revisionAnnotation: "99999999999999999999999"]
        sets[0].metadata.labels = [:]
        sets.append(contentsOf: (0..<1000).map { Self.replicaSet("x\($0)", image: String(repeating: "i", count: 10_000), revision: -$0, desired: Int.max, created: Int64($0)) })
        var run = Self.run(failed: true)
        run.status?.completedAt = KubeTime(secondsSinceEpoch: Int64.min)
        run.status?.startedAt = KubeTime(secondsSinceEpoch: Int64.max)
        run.status?.message = String(repeating: "\u{1B}[31m|<b>\n", count: 50_000)
        run.status?.metricResults?[0].count = Int.max
        run.status?.metricResults?[0].failed = Int.max
        run.status?.metricResults?[0].measurements = Array(repeating: AnalysisMeasurement(phase: .Failed, value: String(repeating: "9", count: 100_000)), count: 5000)
        run.spec.metrics[0].failureLimit = .string("lots")
        var many = Array(repeating: Self.event(1, "RolloutStepCompleted", "Rollout step 99999999999999999999/1 completed"), count: 3000)
        many.append(ReportEvent(reason: "ScalingReplicaSet", message: "Scaled down ReplicaSet web-bbb from 1 to 0", eventTime: MicroTime(microsecondsSinceEpoch: Int64.max),
                                involvedObject: .init(kind: "Rollout", name: r.metadata.name, uid: "uid-web")))
        many.append(ReportEvent(reason: "RolloutAborted", message: nil, lastTimestamp: KubeTime(secondsSinceEpoch: Int64.max / 2),
                                involvedObject: .init(kind: "Rollout", name: r.metadata.name, uid: "uid-web")))
        let series = MetricSeries(metric: String(repeating: "m", count: 10_000), query: "q", step: -5,
                                  points: (0..<5000).map { MetricSeries.Point(time: Int64.max - Int64($0), value: [Double.nan, .infinity, 1e308, -1e308, 0][$0 % 5]) })
        for revision in [nil, 3, Int.max] as [Int?] {
            let input = RolloutReport.Input(rollout: r, replicaSets: sets, analysisRuns: Array(repeating: run, count: 300), events: many,
                                            revision: revision, series: Array(repeating: series, count: 100), notes: [String(repeating: "n", count: 100_000)],
                                            now: KubeTime(secondsSinceEpoch: Int64.max))
            guard let report = try? RolloutReport.build(input) else { continue }
            #expect(report.events.count <= 300 && report.runs.count <= 50 && report.series.count <= 20)
            let text = ReportText.render(report), md = ReportMarkdown.render(report), json = report.json()
            #expect(text.utf8.count < 2_000_000 && md.utf8.count < 2_000_000 && json.utf8.count < 4_000_000)
            #expect(!text.contains("\u{1B}"), "no terminal escapes from the cluster reach the terminal")
            #expect(!md.contains("<b>"))
        }
        let brief = RolloutReport.brief(rollout: r, analysisRuns: Array(repeating: run, count: 300), now: KubeTime(secondsSinceEpoch: Int64.min))
        #expect(brief.split(separator: "\n").count <= 4 && brief.utf8.count < 3000)
        #expect(!RolloutReport.brief(rollout: Rollout(metadata: ObjectMeta(), spec: RolloutSpec()), analysisRuns: [], now: KubeTime(secondsSinceEpoch: 0)).isEmpty)
        #expect(ReportText.duration(Int64.max).hasSuffix("h") && ReportText.duration(-5) == "0s")
        #expect(ReportText.number(.nan) == "NaN" && ReportText.number(1e300) == "1e+300")
    }

    static let abortedText = #"""
        Rollout shop/web: update to revision 3, aborted
        Strategy:    Canary
        Before:      revision 2: web:2.0 (ReplicaSet web-aaa)
        After:       revision 3: web:3.0 (ReplicaSet web-bbb)
        Started:     2026-11-22T10:00:00Z
        Aborted:     2026-11-22T10:00:30Z (after 30s)
        Trigger:     analysis run web-bbb-1 Failed on metric success-rate
          measured:  [0.5], [0.5], [0.5], [0.5]
          condition: success when result[0] >= 0.95
          counted:   4 failed of 4 measurements (failureLimit 3)
          message:   [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)
        Traffic:     web:3.0 had up to 20% of the traffic for 22s until traffic was back on stable

        Timeline
          TIME      AFTER  WHAT
          10:00:00  +0s    update started: revision 3 (web:3.0), replacing revision 2 (web:2.0)
          10:00:00  +0s    Rollout updated to a new template (hash bbb)
          10:00:08  +8s    Rollout step 1/3 completed (setWeight 20)
          10:00:10  +10s   Started analysis run web-bbb-1 (step 2)
          10:00:29  +29s   ⚠ Analysis run web-bbb-1 failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)
          10:00:30  +30s   ⚠ Rollout aborted update to revision 3: analysis run web-bbb-1 Failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)
          10:00:35  +35s   rollback finished: Scaled down ReplicaSet web-bbb from 1 to 0

        Analysis runs
          NAME       STATUS    SLOT    STARTED   DONE      METRICS
          web-bbb-1  ✖ Failed  step 2  10:00:10  10:00:28  success-rate ✔0 ✖4 last [0.5]

        Metrics over the update (Prometheus range query)
          success-rate  ████▇▄▁▁▁ ▁██  min 0.5  max 1  last 1  (13 points, every 5s)
                        query: sum(rate(ok[1m])) / sum(rate(all[1m]))

        Events
          TIME      TYPE     REASON                MESSAGE
          10:00:00  Normal   RolloutUpdated        Rollout updated to a new template (hash bbb)
          10:00:00  Normal   NewReplicaSetCreated  Created ReplicaSet web-bbb (revision 3) with size 1
          10:00:08  Normal   RolloutStepCompleted  Rollout step 1/3 completed (setWeight 20)
          10:00:10  Normal   AnalysisRunRunning    Started analysis run web-bbb-1 (step 2)
          10:00:29  Warning  AnalysisRunFailed     Analysis run web-bbb-1 failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)
          10:00:30  Warning  RolloutAborted        Rollout aborted update to revision 3: analysis run web-bbb-1 Failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3)
          10:00:35  Normal   ScalingReplicaSet     Scaled down ReplicaSet web-bbb from 1 to 0

        """#

    static let abortedMarkdown = #"""
        ## Rollout shop/web: update to revision 3, aborted

        |  |  |
        | --- | --- |
        | Strategy | Canary |
        | Before | revision 2: web:2.0 (ReplicaSet web-aaa) |
        | After | revision 3: web:3.0 (ReplicaSet web-bbb) |
        | Started | 2026-11-22T10:00:00Z |
        | Aborted | 2026-11-22T10:00:30Z (after 30s) |
        | Trigger | analysis run web-bbb-1 Failed on metric success-rate |
        | Measured | `[0.5]`, `[0.5]`, `[0.5]`, `[0.5]` |
        | Condition | `success when result[0] >= 0.95` |
        | Counted | 4 failed of 4 measurements (failureLimit 3) |
        | Message | [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3) |
        | Traffic | web:3.0 had up to 20% of the traffic for 22s until traffic was back on stable |

        ### Timeline

        | Time | After | What |
        | --- | --- | --- |
        | 10:00:00 | +0s | update started: revision 3 (web:3.0), replacing revision 2 (web:2.0) |
        | 10:00:00 | +0s | Rollout updated to a new template (hash bbb) |
        | 10:00:08 | +8s | Rollout step 1/3 completed (setWeight 20) |
        | 10:00:10 | +10s | Started analysis run web-bbb-1 (step 2) |
        | 10:00:29 | +29s | ⚠ Analysis run web-bbb-1 failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3) |
        | 10:00:30 | +30s | ⚠ Rollout aborted update to revision 3: analysis run web-bbb-1 Failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3) |
        | 10:00:35 | +35s | rollback finished: Scaled down ReplicaSet web-bbb from 1 to 0 |

        ### Analysis runs

        | Run | Status | Slot | Metric | Metric status | ✔/✖/⚠/all | Last values | Condition |
        | --- | --- | --- | --- | --- | --- | --- | --- |
        | web-bbb-1 | Failed | step 2 | success-rate | Failed | 0/4/0/4 | `[0.5]` `[0.5]` `[0.5]` `[0.5]` | `success when result[0] >= 0.95` |

        ### Metrics over the update (Prometheus range query)

        **success-rate** `sum(rate(ok[1m])) / sum(rate(all[1m]))`: ████▇▄▁▁▁ ▁██

        | Time | After | Value |
        | --- | --- | --- |
        | 09:59:50 | -10s | 1 |
        | 09:59:55 | -5s | 1 |
        | 10:00:00 | +0s | 1 |
        | 10:00:05 | +5s | 1 |
        | 10:00:10 | +10s | 0.9 |
        | 10:00:15 | +15s | 0.7 |
        | 10:00:20 | +20s | 0.5 |
        | 10:00:25 | +25s | 0.5 |
        | 10:00:30 | +30s | 0.5 |
        | 10:00:35 | +35s | NaN |
        | 10:00:40 | +40s | 0.5 |
        | 10:00:45 | +45s | 1 |
        | 10:00:50 | +50s | 1 |

        ### Events

        | Time | Type | Reason | Message |
        | --- | --- | --- | --- |
        | 10:00:00 | Normal | RolloutUpdated | Rollout updated to a new template (hash bbb) |
        | 10:00:00 | Normal | NewReplicaSetCreated | Created ReplicaSet web-bbb (revision 3) with size 1 |
        | 10:00:08 | Normal | RolloutStepCompleted | Rollout step 1/3 completed (setWeight 20) |
        | 10:00:10 | Normal | AnalysisRunRunning | Started analysis run web-bbb-1 (step 2) |
        | 10:00:29 | Warning | AnalysisRunFailed | Analysis run web-bbb-1 failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3) |
        | 10:00:30 | Warning | RolloutAborted | Rollout aborted update to revision 3: analysis run web-bbb-1 Failed: success-rate: [0.5] did not satisfy result[0] >= 0.95 (4 failures > failureLimit 3) |
        | 10:00:35 | Normal | ScalingReplicaSet | Scaled down ReplicaSet web-bbb from 1 to 0 |

        """#

    static let promotedText = #"""
        Rollout shop/web: update to revision 3, promoted
        Strategy:    Canary
        Before:      revision 2: web:2.0 (ReplicaSet web-aaa)
        After:       revision 3: web:3.0 (ReplicaSet web-bbb)
        Started:     2026-11-22T10:00:00Z
        Promoted:    2026-11-22T10:00:40Z (after 40s)

        Timeline
          TIME      AFTER  WHAT
          10:00:00  +0s    update started: revision 3 (web:3.0), replacing revision 2 (web:2.0)
          10:00:00  +0s    Rollout updated to a new template (hash bbb)
          10:00:08  +8s    Rollout step 1/3 completed (setWeight 20)
          10:00:10  +10s   Started analysis run web-bbb-1 (step 2)
          10:00:29  +29s   Analysis run web-bbb-1 succeeded
          10:00:29  +29s   Rollout step 2/3 completed (analysis)
          10:00:31  +31s   Rollout step 3/3 completed (setWeight 60)
          10:00:40  +40s   Promoted ReplicaSet web-bbb (revision 3) to stable
          10:00:45  +45s   Rollout completed: revision 3 is stable with 5 available pods

        Analysis runs
          NAME       STATUS        SLOT    STARTED   DONE      METRICS
          web-bbb-1  ✔ Successful  step 2  10:00:10  10:00:28  success-rate ✔4 ✖0 last [1]

        Metrics over the update (Prometheus range query)
          success-rate  ████▅██▁█████  min 0.98  max 1  last 1  (13 points, every 5s)
                        query: sum(rate(ok[1m])) / sum(rate(all[1m]))

        Events
          TIME      TYPE    REASON                 MESSAGE
          10:00:00  Normal  RolloutUpdated         Rollout updated to a new template (hash bbb)
          10:00:00  Normal  NewReplicaSetCreated   Created ReplicaSet web-bbb (revision 3) with size 1
          10:00:08  Normal  RolloutStepCompleted   Rollout step 1/3 completed (setWeight 20)
          10:00:10  Normal  AnalysisRunRunning     Started analysis run web-bbb-1 (step 2)
          10:00:29  Normal  AnalysisRunSuccessful  Analysis run web-bbb-1 succeeded
          10:00:29  Normal  RolloutStepCompleted   Rollout step 2/3 completed (analysis)
          10:00:31  Normal  RolloutStepCompleted   Rollout step 3/3 completed (setWeight 60)
          10:00:40  Normal  RolloutPromoted        Promoted ReplicaSet web-bbb (revision 3) to stable
          10:00:45  Normal  RolloutCompleted       Rollout completed: revision 3 is stable with 5 available pods

        """#
}
