import AviaryAPI
import Foundation
import Kube
import TestSupport
import Testing
@testable import Analysis
@testable import AnalysisCore

/// `prometheus.rangeQuery {start, end, step}`: the window, its limits and the flattened result.
@Suite struct RangeWindowTests {
    let now: Int64 = 1_700_000_000

    @Test func argoStyleExpressions() throws {
        let w = try RangeWindow.resolve(PrometheusRangeQuery(start: "now() - duration('10m')", end: "now()", step: "1m"), now: now)
        #expect(w == RangeWindow(start: now - 600, end: now, step: 60))
        let d = try RangeWindow.resolve(PrometheusRangeQuery(start: #"now()-duration("1h")"#, step: "30s"), now: now)
        #expect(d == RangeWindow(start: now - 3600, end: now, step: 30), "end defaults to now()")
        let shifted = try RangeWindow.resolve(PrometheusRangeQuery(start: "now() - duration('2h')", end: "now() - duration('1h')", step: "5m"), now: now)
        #expect(shifted == RangeWindow(start: now - 7200, end: now - 3600, step: 300))
    }

    @Test(arguments: [
        (PrometheusRangeQuery(end: "now()", step: "1m"), "rangeQuery.start is required, e.g. \"now() - duration('10m')\""),
        (PrometheusRangeQuery(start: "now() - duration('5m')"), "rangeQuery.step is required, e.g. 1m"),
        (PrometheusRangeQuery(start: "yesterday", step: "1m"), "rangeQuery.start: \"yesterday\" is not understood; write now() or now() - duration('10m')"),
        (PrometheusRangeQuery(start: "now() - duration(5m)", step: "1m"), "rangeQuery.start: \"now() - duration(5m)\" is not understood; write now() or now() - duration('10m')"),
        (PrometheusRangeQuery(start: "now()", step: "1m"), "rangeQuery: start (now()) is not before end (now()); write a start earlier than the end, e.g. start: \"now() - duration('10m')\""),
        (PrometheusRangeQuery(start: "now() - duration('30d')", step: "1s"), "rangeQuery.start: \"30d\" is not a duration like 30s, 5m, 1h or a number of seconds"),
        (PrometheusRangeQuery(start: "now() - duration('24h')", step: "1s"), "rangeQuery: 86401 points (window / step) is more than Prometheus' 11000; raise the step or shorten the window"),
        (PrometheusRangeQuery(start: "now() - duration('9000000h')", step: "1h"), "rangeQuery.start: \"9000000h\" is longer than the largest duration aviary accepts (31536000s, one year)"),
    ])
    func badWindowsAreNamed(q: PrometheusRangeQuery, message: String) {
        let e = #expect(throws: RangeWindowError.self) { try RangeWindow.resolve(q, now: now) }
        #expect(e?.description == message)
    }

    @Test func aTemplateWithABadWindowIsRefusedWhenRead() {
        var m = Metric(name: "p99", successCondition: "all(result, # < 0.5)", provider: MetricProvider(prometheus: PrometheusMetric(address: "http://p", query: "q")))
        m.provider.prometheus?.rangeQuery = PrometheusRangeQuery(start: "now()", step: "1m")
        #expect(throws: MetricSpecError.self) { try MetricPlan(m) }
        m.provider.prometheus?.rangeQuery = PrometheusRangeQuery(start: "now() - duration('{{args.window}}')", step: "1m")
        #expect(throws: Never.self) { try MetricPlan(m) }
    }

    @Test func aMatrixIsFlattenedSeriesAfterSeries() throws {
        let body = #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"pod":"a"},"values":[[1,"0.1"],[2,"0.2"]]},{"metric":{"pod":"b"},"values":[[1,"NaN"]]}]}}"#
        let decoded = try PrometheusProvider.decode(Data(body.utf8), status: 200, address: "http://p")
        let flat = PrometheusProvider.flattened(decoded)
        guard case .array(let values) = flat else { Issue.record("not an array"); return }
        #expect(values.count == 3)
        #expect(values.first == .number(0.1))
        #expect(PrometheusProvider.flattened(.array([])) == .array([]))
    }

    /// Through the provider against a server on 127.0.0.1: the range API with the window's parameters.
    @Test func asksQueryRangeWithStartEndAndStep() async throws {
        let body = #"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"3"]]}]}}"#
        let receiver = try RecordingReceiver(script: .always(200), responseBody: body)
        defer { receiver.stop() }
        let provider = PrometheusProvider(address: receiver.url(), range: RangeWindow(start: 100, end: 160, step: 30))
        #expect(try await provider.query("rate(x[1m])") == .array([.number(1), .number(3)]))
        let got = await receiver.waitFor(count: 1)
        #expect(got.first?.path == "/api/v1/query_range?query=rate%28x%5B1m%5D%29&start=100&end=160&step=30")
    }
}
