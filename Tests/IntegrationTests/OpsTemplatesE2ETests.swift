import AviaryAPI
import Foundation
import Kube
import Testing

/// The ops documents' success-rate and latency templates exactly as people
/// write them (`result >= 0.95`, `result < 0.5` over a query that answers a
/// one-element vector; Fixtures/ops-templates.yaml), with only the Prometheus
/// address changed: in Argo every measurement would be an Error and the
/// rollout would abort for no reason; here a good version is promoted and a
/// bad one aborted, naming the metric, the value and the condition.
@Suite struct OpsTemplatesE2ETests {
    /// The fixture's templates, pointed at the test cluster's Prometheus; nothing else changes.
    static func templates(prometheus: String) throws -> [JSONValue] {
        let text = try String(contentsOfFile: TestCluster.repoRoot + "/Tests/IntegrationTests/Fixtures/ops-templates.yaml", encoding: .utf8)
        let docs = try JSONValue.documents(fromYAML: text)
        return docs.map { $0.overlaid(with: ["spec": ["args": .array(AnalysisE2ETests.argsWith($0["spec"]?["args"], prometheus: prometheus))]]) }
    }

    @Test func theTemplatesAsWrittenPromoteAGoodVersionAndAbortABadOne() async throws {
        let analysis = AnalysisE2ETests()
        let templates = try Self.templates(prometheus: try AnalysisE2ETests.prometheusURL)
        #expect(templates.compactMap { $0.value(at: ["spec", "metrics", "0", "successCondition"])?.stringValue } == ["result >= 0.95", "result < 0.5"])
        let s = try await analysis.start("ops-templates", templates: templates)
        let p = s.probe

        // A good version: no errors, 20 ms. Both conditions hold on the one-element vectors.
        let first = try await p.rollout().status?.stableRS
        try await analysis.release(p, image: "registry.example/web:2.0", errorRate: 0, latency: "20ms")
        try await p.wait("2.0 promoted through the as-written templates", timeout: .seconds(150)) {
            $0.status?.phase == .Healthy && $0.status?.stableRS != first && $0.status?.stableRS == $0.status?.currentPodHash
        }
        let good = try await p.rollout().status?.stableRS ?? ""
        let stepRun = try await analysis.run(s, "web-\(good)-1")
        #expect(stepRun.phase == .Successful)
        let rate = try #require(stepRun.status?.result("success-rate"))
        #expect(rate.successful ?? 0 >= 1 && rate.failed ?? 0 == 0, "\(rate)")
        #expect(rate.measurements?.last?.value == "[1]", "the measured value is shown as it came: \(rate.measurements?.last?.value ?? "none")")
        let latency = try #require(stepRun.status?.result("p95-latency"))
        #expect(latency.successful ?? 0 >= 1 && latency.failed ?? 0 == 0, "\(latency)")
        // Not one measurement was the Argo error this rule removes.
        let messages = (rate.measurements ?? []).compactMap(\.message) + (latency.measurements ?? []).compactMap(\.message)
        #expect(!messages.contains { $0.contains("does not apply to an array") }, "\(messages)")

        // A bad version: half its requests fail. The success rate fails 4 times (failureLimit 3) and the update aborts.
        try await analysis.release(p, image: "registry.example/web:3.0", errorRate: 0.5, latency: "20ms")
        try await p.wait("3.0 aborted by the as-written success-rate", timeout: .seconds(120)) { $0.status?.abort == true && $0.status?.phase == .Degraded }
        let aborted = try await p.rollout()
        let badHash = aborted.status?.currentPodHash ?? ""
        let badRun = try await analysis.run(s, "web-\(badHash)-1")
        #expect(badRun.phase == .Failed)
        #expect(badRun.status?.result("success-rate")?.failed == 4)
        let message = aborted.status?.message ?? ""
        #expect(message.contains("analysis run web-\(badHash)-1 Failed: success-rate: [0.5] did not satisfy result >= 0.95 (4 failures > failureLimit 3)"),
                "the message names the metric, the value and the condition: \(message)")
        let abortEvent = try await p.events().first { $0.reason == "RolloutAborted" }
        #expect(abortEvent?.message.contains("success-rate: [0.5] did not satisfy result >= 0.95") == true, "\(abortEvent?.message ?? "no event")")
        try await eventually("stable serving alone again") {
            let sz = try await p.sizes()
            return sz["registry.example/web:2.0"]?.available == 5
        }
        await analysis.finish(s)
    }
}
