import Analysis
import Foundation
import Kube
import Testing

/// The Prometheus provider against the real Prometheus that scripts/cluster.sh runs.
@Suite struct PrometheusProviderTests {
    func prometheus() throws -> PrometheusProvider {
        let port = try String(contentsOfFile: try TestCluster.directory + "/prometheus.port", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return PrometheusProvider(address: "http://127.0.0.1:\(port)", timeout: .seconds(5))
    }

    @Test func vectorsScalarsAndJudgement() async throws {
        let p = try prometheus()
        let vector = try await p.query("vector(0.97)")
        #expect(vector == [0.97])
        #expect(try await p.query("scalar(vector(2))") == 2)
        let ok = try Analysis.Expression.parse("result[0] >= 0.95")
        #expect(Judgement.measurement(result: vector, success: ok, failure: nil).0 == .Successful)
        // The scrape of Prometheus itself is real data, at a 1 s interval.
        try await eventually("Prometheus to have scraped itself") {
            (try await p.query("up{job=\"prometheus\"}")) == [1]
        }
    }

    @Test func anEmptyResultIsAnErrorThatSaysSo() async throws {
        let empty = try await prometheus().query("no_such_metric_anywhere")
        #expect(empty == [])
        let (phase, message) = Judgement.measurement(result: empty, success: try Analysis.Expression.parse("result[0] >= 0.95"), failure: nil)
        #expect(phase == .Error)
        #expect(message?.contains("query returned no data") == true)
    }

    @Test func aBadQueryAndADeadServerAreClearErrors() async throws {
        await #expect {
            _ = try await prometheus().query("sum(")
        } throws: { "\($0)".contains("bad_data") && "\($0)".contains("unclosed left parenthesis") }
        let dead = PrometheusProvider(address: "http://127.0.0.1:1", timeout: .seconds(2))
        await #expect {
            _ = try await dead.query("up")
        } throws: { "\($0)".hasPrefix("prometheus at http://127.0.0.1:1: cannot connect") }
    }
}
