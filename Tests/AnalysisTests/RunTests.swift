import AviaryAPI
import Kube
import Testing
@testable import Analysis
@testable import AnalysisCore

@Suite struct RunScheduleTests {
    let t0 = KubeTime(secondsSinceEpoch: 1_000)
    func at(_ s: Int64) -> KubeTime { KubeTime(secondsSinceEpoch: 1_000 + s) }

    func plan(interval: String? = "10s", count: Int? = 3, delay: String? = nil) throws -> MetricPlan {
        var m = Metric(name: "m", interval: interval, count: count.map(IntOrString.int), successCondition: "result >= 1",
                       provider: MetricProvider(web: WebMetric(url: "http://x")))
        m.initialDelay = delay
        return try MetricPlan(m)
    }

    func taken(_ starts: [Int64]) -> AnalysisRunStatus {
        var s = AnalysisRunStatus()
        s.startedAt = t0
        var r = MetricResult(name: "m", phase: .Running)
        r.count = starts.count
        r.measurements = starts.map { AnalysisMeasurement(phase: .Successful, startedAt: at($0), finishedAt: at($0)) }
        s.metricResults = [r]
        return s
    }

    @Test func firstMeasurementWaitsForInitialDelay() throws {
        let p = try plan(delay: "5s")
        #expect(RunSchedule.due([p], status: taken([]), now: at(4)).work.isEmpty)
        #expect(RunSchedule.due([p], status: taken([]), now: at(4)).next == 1_005)
        #expect(RunSchedule.due([p], status: taken([]), now: at(5)).work == [.measure("m")])
    }

    @Test func laterMeasurementsStayOnTheGridFromTheStart() throws {
        let p = try plan()
        // A measurement that started late (at 3 s) does not push the next one to 13 s.
        #expect(RunSchedule.due([p], status: taken([3]), now: at(9)).next == 1_010)
        #expect(RunSchedule.due([p], status: taken([3]), now: at(10)).work == [.measure("m")])
        // A runner that fell far behind takes one now and goes on at the next grid point, with no burst.
        let late = RunSchedule.due([p], status: taken([0]), now: at(37))
        #expect(late.work == [.measure("m")])
        #expect(late.next == 1_040)
        #expect(RunSchedule.due([p], status: taken([0, 37]), now: at(38)).work.isEmpty)
    }

    @Test func countEndsTheMetric() throws {
        #expect(RunSchedule.due([try plan()], status: taken([0, 10, 20]), now: at(100)).work.isEmpty)
        let once = try plan(interval: nil, count: nil)
        #expect(once.count == 1, "with neither interval nor count, one measurement")
        let forever = try plan(interval: "5s", count: nil)
        #expect(forever.count == nil, "with an interval and no count, until terminated")
    }

    @Test func aRunningJobIsResumedNotRetaken() throws {
        var s = taken([])
        s.metricResults?[0].measurements = [AnalysisMeasurement(phase: .Running, startedAt: at(0), metadata: ["job-name": "j"])]
        #expect(RunSchedule.due([try plan()], status: s, now: at(50)).work == [.resume("m", s.metricResults![0].measurements![0])])
    }
}

@Suite struct RunRecorderTests {
    let now = KubeTime(secondsSinceEpoch: 2_000)

    func metric(_ name: String = "success-rate", failureLimit: Int = 2, count: Int = 10) -> Metric {
        Metric(name: name, interval: "5s", count: .int(count), successCondition: "result[0] >= 0.95", failureLimit: .int(failureLimit),
               provider: MetricProvider(prometheus: PrometheusMetric(address: "http://p", query: "q")))
    }

    func measure(_ status: inout AnalysisRunStatus, _ plan: MetricPlan, _ phase: AnalysisPhase, _ value: String, message: String? = nil) {
        RunRecorder.record(AnalysisMeasurement(phase: phase, message: message, startedAt: now, finishedAt: now, value: value),
                           of: plan, in: &status, retention: 10)
    }

    @Test func failuresBeyondTheLimitFailTheRunAndSayWhy() throws {
        let spec = AnalysisSpec(metrics: [metric()])
        let plan = try MetricPlan(spec.metrics[0])
        var status = RunRecorder.start(spec, now: now)
        for _ in 0..<2 {
            measure(&status, plan, .Failed, "[0.82]", message: "[0.82] did not satisfy result[0] >= 0.95")
            RunRecorder.finish(&status, plans: [plan], terminate: false, now: now)
            #expect(status.phase == .Running, "failures up to failureLimit are allowed")
        }
        measure(&status, plan, .Failed, "[0.82]", message: "[0.82] did not satisfy result[0] >= 0.95")
        RunRecorder.finish(&status, plans: [plan], terminate: false, now: now)
        #expect(status.phase == .Failed)
        #expect(status.message == "success-rate: [0.82] did not satisfy result[0] >= 0.95 (3 failures > failureLimit 2)")
        #expect(status.result("success-rate")?.failed == 3)
        #expect(status.runSummary?.failed == 1)
        #expect(status.summary == "success-rate=[0.82]")
        #expect(status.completedAt == now)
    }

    @Test func consecutiveErrorsResetOnSuccess() throws {
        let spec = AnalysisSpec(metrics: [metric()])
        let plan = try MetricPlan(spec.metrics[0])
        var status = RunRecorder.start(spec, now: now)
        for _ in 0..<4 { measure(&status, plan, .Error, "", message: "prometheus at http://p: connection refused") }
        measure(&status, plan, .Successful, "[0.99]")
        #expect(status.result("success-rate")?.consecutiveError == 0)
        for _ in 0..<5 { measure(&status, plan, .Error, "", message: "prometheus at http://p: connection refused") }
        RunRecorder.finish(&status, plans: [plan], terminate: false, now: now)
        #expect(status.phase == .Error)
        #expect(status.message == "success-rate: prometheus at http://p: connection refused (5 consecutive errors > consecutiveErrorLimit 4)")
    }

    @Test func dryRunMetricsAreReportedApartAndNeverDecide() throws {
        var spec = AnalysisSpec(metrics: [metric("real", count: 1), metric("trial", failureLimit: 0, count: 1)])
        spec.dryRun = [MetricSelector(metricName: "trial")]
        let plans = try spec.metrics.map(MetricPlan.init)
        var status = RunRecorder.start(spec, now: now)
        measure(&status, plans[0], .Successful, "[0.99]")
        measure(&status, plans[1], .Failed, "[0.5]", message: "[0.5] did not satisfy result[0] >= 0.95")
        RunRecorder.finish(&status, plans: plans, terminate: false, now: now)
        #expect(status.phase == .Successful)
        #expect(status.result("trial")?.phase == .Failed)
        #expect(status.dryRunSummary?.failed == 1)
        #expect(status.runSummary?.successful == 1)
    }

    @Test func retentionKeepsTheLatestButCountsAll() throws {
        let spec = AnalysisSpec(metrics: [metric(count: 20)])
        let plan = try MetricPlan(spec.metrics[0])
        var status = RunRecorder.start(spec, now: now)
        for i in 0..<12 {
            RunRecorder.record(AnalysisMeasurement(phase: .Successful, startedAt: now, value: "[\(i)]"), of: plan, in: &status, retention: 3)
        }
        #expect(status.result("success-rate")?.measurements?.map(\.value) == ["[9]", "[10]", "[11]"])
        #expect(status.result("success-rate")?.count == 12)
    }

    @Test func terminateEndsWithWhatThereIs() throws {
        let spec = AnalysisSpec(metrics: [metric(count: 10)])
        let plan = try MetricPlan(spec.metrics[0])
        var status = RunRecorder.start(spec, now: now)
        measure(&status, plan, .Successful, "[0.99]")
        RunRecorder.finish(&status, plans: [plan], terminate: true, now: now)
        #expect(status.phase == .Successful)
        #expect(status.message == "run terminated")
    }

    @Test func aBadConditionNamesTheMetricTheFieldAndTheColumn() {
        let m = Metric(name: "latency", successCondition: "result[0] <<= 0.5", provider: MetricProvider(web: WebMetric(url: "http://x")))
        #expect {
            try MetricPlan(m)
        } throws: { "\($0)".hasPrefix("metric \"latency\": successCondition: ") && "\($0)".contains("column 12: unexpected \"<=\"") }
    }
}

@Suite struct ArgumentsTests {
    @Test func substitutesAndRedacts() async throws {
        let args = try await Arguments.resolve([
            AnalysisArgument(name: "service", value: "web"),
            AnalysisArgument(name: "token", valueFrom: .init(secretKeyRef: .init(name: "s", key: "k"))),
        ]) { _ in "s3cr3t" }
        #expect(try args.substitute("rate{service=\"{{args.service}}\"} {{ args.token }}") == "rate{service=\"web\"} s3cr3t")
        #expect(args.redact("GET /?t=s3cr3t failed") == "GET /?t=***** failed")
        #expect(throws: ProviderError("argument \"missing\" has no value")) { try args.substitute("{{args.missing}}") }
        #expect(try args.substitute(["spec": ["cmd": ["echo", "{{args.service}}"]]]) == ["spec": ["cmd": ["echo", "web"]]])
    }
}

@Suite struct WebValueTests {
    let body: JSONValue = ["data": ["ok": true, "rates": [0.97, 0.99], "items": [["v": 1], ["v": 2]]]]

    @Test(arguments: [
        ("{$.data.ok}", JSONValue.bool(true)),
        ("$.data.rates[1]", JSONValue.number(0.99)),
        ("{$.data.items[*].v}", JSONValue.array([1, 2])),
        ("$.data['ok']", JSONValue.bool(true)),
    ] as [(String, JSONValue)])
    func jsonPathPicksValues(path: String, expected: JSONValue) throws {
        #expect(try JSONPath.select(path, in: body) == expected)
    }

    @Test func aMissingFieldSaysSo() {
        #expect(throws: ProviderError("jsonPath $.data.nope: no such field in the response")) { try JSONPath.select("$.data.nope", in: body) }
    }

    @Test(arguments: [(JSONValue.number(0.9712), "0.9712"), (JSONValue.array([0.5, 1]), "[0.5,1]"), (JSONValue.number(.nan), "NaN"),
                      (JSONValue.array([]), "[]")] as [(JSONValue, String)])
    func valuesReadAsPeopleWriteThem(value: JSONValue, text: String) {
        #expect(ValueText.format(value) == text)
    }

    @Test(arguments: [("250ms", 0.25), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("7", 7)])
    func durations(text: String, seconds: Double) throws {
        #expect(try DurationText.seconds(text) == seconds)
    }
}

@Suite struct CircuitBreakerTests {
    @Test func opensAfterRepeatedFailuresAndLetsOneTrialThrough() async throws {
        let breaker = CircuitBreaker(threshold: 2, coolDown: .milliseconds(200))
        #expect(await breaker.refusal(for: "http://p") == nil)
        await breaker.record("http://p", success: false)
        #expect(await breaker.refusal(for: "http://p") == nil)
        await breaker.record("http://p", success: false)
        let refusal = await breaker.refusal(for: "http://p")
        #expect(refusal?.hasPrefix("circuit open for http://p after 2 failures in a row") == true)
        #expect(await breaker.refusal(for: "http://other") == nil, "circuits are per address")
        try await Task.sleep(for: .milliseconds(250))
        #expect(await breaker.refusal(for: "http://p") == nil, "half open: one trial")
        #expect(await breaker.refusal(for: "http://p") != nil, "only one trial at a time")
        await breaker.record("http://p", success: true)
        #expect(await breaker.refusal(for: "http://p") == nil)
    }
}

@Suite struct BulkheadTests {
    @Test func neverMoreThanTheLimitAtOnce() async {
        let bulkhead = Bulkhead(limit: 3)
        let gauge = Gauge()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    await bulkhead.run {
                        await gauge.enter()
                        try? await Task.sleep(for: .milliseconds(20))
                        await gauge.leave()
                    }
                }
            }
        }
        #expect(await gauge.peak == 3)
    }

    actor Gauge {
        var current = 0, peak = 0
        func enter() { current += 1; peak = max(peak, current) }
        func leave() { current -= 1 }
    }
}
