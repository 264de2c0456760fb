import Analysis
import AviaryAPI
import Foundation
import Kube
import Testing

/// The CRDs' status schemas against the Swift model: a field the controller
/// writes but the schema does not name would be pruned by the API server
/// without a word, and a value the schema refuses would make the status
/// write fail. So every field of a fully populated status, with the longest
/// values the controller writes, must be in the schema and pass it.
@Suite struct CRDStatusSchemaTests {
    static func schema(_ file: String) throws -> JSONValue {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("crds/\(file)"), encoding: .utf8)
        let crd = try #require(try JSONValue.documents(fromYAML: text).first)
        guard case .array(let versions)? = crd["spec"]?["versions"], let status = versions.first?["schema"]?["openAPIV3Schema"]?["properties"]?["status"] else {
            throw SchemaProblem(path: file, why: "no status schema")
        }
        return status
    }

    struct SchemaProblem: Error, CustomStringConvertible {
        var path: String
        var why: String
        var description: String { "\(path): \(why)" }
    }

    /// Which fields a schema declares and which a value showed, by path without list indices.
    struct Coverage {
        var declared = Set<String>()
        var seen = Set<String>()
        var unseen: [String] { declared.subtracting(seen).sorted() }
        static func key(_ path: String) -> String { path.replacing(/\[[0-9]+\]/, with: "[]") }
    }

    /// What the API server would refuse or prune in `value` under `schema` (the
    /// subset of OpenAPI our CRDs use); `coverage` collects the fields declared and shown.
    static func problems(_ value: JSONValue, _ schema: JSONValue, path: String = "status", coverage: inout Coverage) -> [String] {
        var out: [String] = []
        let type = schema["type"]?.stringValue
        if case .array(let allowed)? = schema["enum"], !allowed.contains(value) { out.append("\(path): \(value) is not one of \(allowed)") }
        switch value {
        case .object(let fields):
            guard type == "object" else { return ["\(path): an object where the schema has \(type ?? "nothing")"] }
            if case .array(let required)? = schema["required"] {
                for case .string(let r) in required where fields[r] == nil { out.append("\(path): \(r) is required") }
            }
            if let additional = schema["additionalProperties"] {
                for (k, v) in fields { out += problems(v, additional, path: "\(path).\(k)", coverage: &coverage) }
            } else if case .object(let properties)? = schema["properties"] {
                for key in properties.keys { coverage.declared.insert(Coverage.key("\(path).\(key)")) }
                for (k, v) in fields {
                    coverage.seen.insert(Coverage.key("\(path).\(k)"))
                    guard let sub = properties[k] else { out.append("\(path).\(k): not in the schema (pruned)"); continue }
                    out += problems(v, sub, path: "\(path).\(k)", coverage: &coverage)
                }
            } else {
                out.append("\(path): an object with no properties in the schema")
            }
        case .array(let items):
            guard type == "array", let itemSchema = schema["items"] else { return ["\(path): a list where the schema has \(type ?? "nothing")"] }
            if case .number(let max)? = schema["maxItems"], Double(items.count) > max { out.append("\(path): \(items.count) items > \(max)") }
            for (i, item) in items.enumerated() { out += problems(item, itemSchema, path: "\(path)[\(i)]", coverage: &coverage) }
        case .string(let s):
            guard type == "string" else { return ["\(path): a string where the schema has \(type ?? "nothing")"] }
            if case .number(let max)? = schema["maxLength"], Double(s.unicodeScalars.count) > max { out.append("\(path): \(s.unicodeScalars.count) characters > \(max)") }
            if schema["format"]?.stringValue == "date-time", (try? KubeTime(parsing: s)) == nil { out.append("\(path): \(s) is not a date-time") }
        case .number(let n):
            guard type == "integer" || type == "number" else { return ["\(path): a number where the schema has \(type ?? "nothing")"] }
            if type == "integer", n != n.rounded() { out.append("\(path): \(n) is not an integer") }
            if case .number(let min)? = schema["minimum"], n < min { out.append("\(path): \(n) < \(min)") }
            if case .number(let max)? = schema["maximum"], n > max { out.append("\(path): \(n) > \(max)") }
        case .bool:
            if type != "boolean" { out.append("\(path): a boolean where the schema has \(type ?? "nothing")") }
        case .null:
            out.append("\(path): null")
        }
        return out
    }

    /// The longest text the controller stores in a measurement, a metric's or a run's message.
    static let longest = ValueText.truncated(String(repeating: "é🐦\"\\", count: 100_000))

    static func runStatus(_ name: String) -> RolloutAnalysisRunStatus {
        RolloutAnalysisRunStatus(name: String(repeating: "r", count: 253), status: .Inconclusive, message: longest)
    }

    @Test func everyRolloutStatusFieldIsInTheSchemaAndPassesIt() throws {
        let now = KubeTime(secondsSinceEpoch: 1_700_000_000)
        var s = RolloutStatus()
        s.observedGeneration = 7
        s.phase = .Paused
        s.message = Self.longest
        s.currentPodHash = "5d8f9c7b6"
        s.stableRS = "7c9d8b5f4"
        s.currentStepIndex = 1000
        s.currentStepHash = "6b7c8d9f5"
        s.pauseConditions = [PauseCondition(reason: .CanaryPauseStep, startTime: now), PauseCondition(reason: .InconclusiveAnalysisRun, startTime: now)]
        s.controllerPause = true
        s.abort = false
        s.abortedAt = now
        s.promoteFull = false
        s.replicas = 10
        s.updatedReplicas = 3
        s.readyReplicas = 9
        s.availableReplicas = 9
        s.selector = "app=web,rollouts-pod-template-hash in (a,b)"
        var canary = CanaryStatus(weights: .init(canary: .init(weight: 100, podTemplateHash: "5d8f9c7b6", serviceName: "web-canary"),
                                                 stable: .init(weight: 0, podTemplateHash: "7c9d8b5f4", serviceName: "web-stable"), verified: true))
        canary.currentStepAnalysisRunStatus = Self.runStatus("step")
        canary.currentBackgroundAnalysisRunStatus = Self.runStatus("background")
        canary.managedRoutes = ["header-route", "mirror-route"]
        canary.rollback = GradualRollbackStatus(weight: 25, since: now)
        s.canary = canary
        var bg = BlueGreenStatus()
        bg.activeSelector = "7c9d8b5f4"
        bg.previewSelector = "5d8f9c7b6"
        bg.stage = .PostPromotion
        bg.prePromotionAnalysisRunStatus = Self.runStatus("pre")
        bg.postPromotionAnalysisRunStatus = Self.runStatus("post")
        s.blueGreen = bg
        s.setCondition(.InvalidSpec, true, reason: "InvalidSpec", message: Self.longest, now: now)
        s.setCondition(.Healthy, false, reason: "Progressing", message: "", now: now)
        s.collisionCount = 2
        s.restartedAt = now
        var ledger = NotificationLedger(oncePer: ["on-new-image[0]": "nginx:1.27"])
        ledger.record([(reason: "RolloutAborted", message: String(repeating: "é", count: 5_000), warning: true, trigger: "on-escalation", run: "web-abc-1")], at: now)
        s.notifications = ledger

        var coverage = Coverage()
        let found = Self.problems(try JSONValue(encoding: s), try Self.schema("rollouts.aviary.dev.yaml"), coverage: &coverage)
        #expect(found.isEmpty, "\(found)")
        #expect(coverage.unseen.isEmpty, "in the schema but not in the model: \(coverage.unseen)")
    }

    @Test func everyAnalysisRunStatusFieldIsInTheSchemaAndPassesIt() throws {
        let now = KubeTime(secondsSinceEpoch: 1_700_000_000)
        var s = AnalysisRunStatus()
        s.phase = .Failed
        s.message = Self.longest
        s.startedAt = now
        s.completedAt = now
        s.summary = Self.longest
        var m = MetricResult(name: "success-rate", phase: .Failed)
        m.measurements = (0..<RunRecorder.maxRetention).map { _ in
            AnalysisMeasurement(phase: .Failed, message: Self.longest, startedAt: now, finishedAt: now, value: Self.longest,
                                metadata: ["job-name": "web-abc-1.success-rate.1"])
        }
        m.message = Self.longest
        m.count = 100
        m.successful = 1
        m.failed = 97
        m.inconclusive = 1
        m.error = 1
        m.consecutiveError = 0
        m.consecutiveSuccess = 0
        m.dryRun = true
        s.metricResults = [m, MetricResult(name: "latency")]
        var summary = RunSummary()
        summary.count = 2
        summary.failed = 1
        s.runSummary = summary
        s.dryRunSummary = summary

        var coverage = Coverage()
        let found = Self.problems(try JSONValue(encoding: s), try Self.schema("analysisruns.aviary.dev.yaml"), coverage: &coverage)
        #expect(found.isEmpty, "\(found.prefix(5))")
        #expect(coverage.unseen.isEmpty, "in the schema but not in the model: \(coverage.unseen)")
    }

    @Test func theSchemaRefusesTheWorst() throws {
        let schema = try Self.schema("rollouts.aviary.dev.yaml")
        var coverage = Coverage()
        let bad: JSONValue = [
            "phase": "Exploded", "currentStepIndex": -1, "replicas": 3_000_000_000, "message": .string(String(repeating: "x", count: 40_000)),
            "canary": ["weights": ["canary": ["weight": 2_000_000], "stable": ["weight": -50]]],
            "conditions": [["type": "Healthy", "status": "Maybe", "reason": "", "message": ""]],
            "pauseConditions": [["reason": "CanaryPauseStep", "startTime": "yesterday"]],
        ]
        let found = Self.problems(bad, schema, coverage: &coverage)
        for field in ["phase", "currentStepIndex", "replicas", "message", "weights.canary.weight", "weights.stable.weight",
                      "conditions[0].status", "pauseConditions[0].startTime"] {
            #expect(found.contains { $0.hasPrefix("status.") && $0.contains(field) }, "\(field) is refused: \(found)")
        }
    }
}
