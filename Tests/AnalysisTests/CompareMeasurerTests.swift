import AviaryAPI
import Foundation
import Kube
import TestSupport
import Testing
@testable import Analysis
@testable import AnalysisCore

/// `provider.compare` through the Measurer, against a stand-in Prometheus
/// that answers each side's query by the hash in it.
@Suite struct CompareMeasurerTests {
    let client = KubeClient(access: ClusterAccess(server: "https://127.0.0.1:1", tls: TLSSettings(), credentials: .none, source: "test"))

    /// A vector with one series per value (as an instant query `by (pod)` answers).
    static func vector(_ values: [Double]) -> [UInt8] {
        let series = values.map { #"{"metric":{},"value":[1700000000,"\#($0)"]}"# }.joined(separator: ",")
        return TinyHTTPServer.response("200 OK", headers: ["Content-Type: application/json"],
                                       body: Array(#"{"status":"success","data":{"resultType":"vector","result":[\#(series)]}}"#.utf8))
    }

    func metric(port: Int, canary: String = "{{args.canary-hash}}", baseline: String = "{{args.stable-hash}}") -> Metric {
        var c = CompareMetric(prometheus: ComparePrometheus(address: "http://127.0.0.1:\(port)"), canary: canary, baseline: baseline,
                              metrics: [CompareQuery(name: "latency", query: #"avg by (pod) (latency{token="{{args.token}}", hash="{{hash}}"})"#)])
        c.metrics[0].effectSize = CompareEffectSize(allowedIncrease: 1.1)
        c.metrics[0].critical = true
        var m = Metric(name: "judge", provider: MetricProvider())
        m.provider.compare = c
        return m
    }

    func run(_ metric: Metric, canary: String = "aaa111", stable: String = "bbb222") -> AnalysisRun {
        AnalysisRun(metadata: ObjectMeta(name: "r", namespace: "ns"), spec: AnalysisSpec(args: [
            AnalysisArgument(name: "canary-hash", value: canary), AnalysisArgument(name: "stable-hash", value: stable),
            AnalysisArgument(name: "token", value: "tok3n-value"),
        ], metrics: [metric]))
    }

    func measure(_ metric: Metric, _ run: AnalysisRun) async throws -> AnalysisMeasurement {
        await Measurer(client: client, bulkhead: Bulkhead(limit: 1)).measure(metric, plan: try MetricPlan(metric), run: run, number: 1, now: KubeTime.now())
    }

    @Test func aSlowerCanaryFailsWithEachSidesNumbers() async throws {
        let slow = (0..<8).map { 0.26 + Double($0) / 1000 }, normal = (0..<8).map { 0.2 + Double($0) / 1000 }
        let server = try TinyHTTPServer { head in
            head.contains("aaa111") ? Self.vector(slow) : head.contains("bbb222") ? Self.vector(normal) : Self.vector([])
        }
        defer { server.stop() }
        let m = try await measure(metric(port: server.port), run(metric(port: server.port)))
        #expect(m.phase == .Failed, "\(m.message ?? "")")
        #expect(m.metadata == ["canary-hash": "aaa111", "baseline-hash": "bbb222"])
        #expect(m.value?.hasPrefix(#"{"score":0,"metrics":[{"name":"latency","result":"High","critical":true,"canary":{"median":0.2635,"n":8},"baseline":{"median":0.2035,"n":8}"#) == true,
                "\(m.value ?? "")")
        // 8 against 8, fully separated, no ties: exact p = 1 / C(16, 8) = 1/12870.
        #expect(m.value?.contains(#""pValue":7.77e-05"#) == true, "\(m.value ?? "")")
        #expect(m.message?.hasPrefix("score 0 (pass 95, marginal 75): latency High (critical): canary median 0.2635 vs baseline 0.2035, +29.5 %") == true,
                "\(m.message ?? "")")
    }

    @Test func sameHashMissingDataAndADeadServerAreSaidPlainly() async throws {
        let server = try TinyHTTPServer { _ in Self.vector([]) }
        defer { server.stop() }
        let metric = metric(port: server.port)
        let same = try await measure(metric, run(metric, canary: "aaa111", stable: "aaa111"))
        #expect(same.phase == .Error)
        #expect(same.message?.hasPrefix("compare: canary and baseline are the same ReplicaSet (hash aaa111)") == true)

        let empty = try await measure(metric, run(metric))
        #expect(empty.phase == .Inconclusive, "no data is never a pass")
        #expect(empty.message?.hasPrefix("no score: no metric had enough data (latency NoData: 0 canary and 0 baseline samples") == true, "\(empty.message ?? "")")

        let hostile = try await measure(metric, run(metric, canary: #"x"} or vector(1) #"#))
        #expect(hostile.phase == .Error)
        #expect(hostile.message?.contains("provider.compare.canary") == true && hostile.message?.contains("is not a pod-template hash") == true)

        let dead = self.metric(port: 1)
        let unreachable = try await measure(dead, run(dead))
        #expect(unreachable.phase == .Error)
        #expect(unreachable.message?.hasPrefix("compare: latency (canary aaa111): prometheus at http://127.0.0.1:1: cannot connect") == true,
                "\(unreachable.message ?? "")")
    }

    @Test func aPrometheusErrorNamesTheMetricAndSide() async throws {
        let server = try TinyHTTPServer { _ in
            TinyHTTPServer.response("400 Bad Request", body: Array(#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected"}"#.utf8))
        }
        defer { server.stop() }
        var metric = metric(port: server.port)
        metric.provider.compare?.metrics[0].query = #"bad{hash="{{hash}}"}"#
        let m = try await measure(metric, run(metric))
        #expect(m.phase == .Error)
        #expect(m.message == "compare: latency (canary aaa111): prometheus at http://127.0.0.1:\(server.port): bad_data: 1:5: parse error: unexpected",
                "the first failing call, in order: \(m.message ?? "")")
    }
}
