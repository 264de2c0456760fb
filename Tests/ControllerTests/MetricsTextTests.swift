import AviaryAPI
import CoreMetrics
import Foundation
import Kube
import Prometheus
import Testing
@testable import Controller
@testable import Runtime

/// `/metrics` stays valid Prometheus text whatever users name their objects
/// and metrics: checked by a strict parser of the text format written here,
/// and by `promtool check metrics`.
@Suite struct MetricsTextTests {
    static let evilNames = ["we\"ird", "back\\slash", "new\nline", "ünï©ødé-🐦", "all\\\"\n\\n\"", "}{,=\" x", "end\\"]

    static func rollout(_ name: String, namespace: String = "ns", blueGreen: Bool = false, phase: RolloutPhase? = .Healthy) -> Rollout {
        var status = RolloutStatus()
        status.phase = phase
        status.availableReplicas = 2
        status.currentStepIndex = 1
        let strategy = blueGreen ? RolloutStrategy(blueGreen: BlueGreenStrategy()) : RolloutStrategy(canary: CanaryStrategy())
        return Rollout(metadata: ObjectMeta(name: name, namespace: namespace), spec: RolloutSpec(replicas: 3, strategy: strategy), status: status)
    }

    static func run(_ name: String, namespace: String = "ns", metrics: [String]) -> AnalysisRun {
        var status = AnalysisRunStatus()
        status.phase = .Running
        status.metricResults = metrics.map { MetricResult(name: $0, phase: .Successful) }
        return AnalysisRun(metadata: ObjectMeta(name: name, namespace: namespace), spec: AnalysisSpec(metrics: []), status: status)
    }

    /// Every object family, with names full of quotes, backslashes, newlines and unicode.
    static func evilObjects() -> String {
        var rollouts = evilNames.map { rollout($0) }
        rollouts.append(rollout("blue", namespace: "ns\"\\\n", blueGreen: true, phase: nil))
        rollouts.append(rollout("ctl\u{0}\t\r\u{7F}\u{85}"))
        rollouts.append(rollout("ctl\u{1}\u{2}\u{3}\u{4}\u{5}"))   // the same labels once bounded: one series only
        let runs = [run("run\"\\\n", metrics: evilNames + ["ctl\u{1}\u{1b}[31m"]), run("plain", namespace: "ünï", metrics: ["ok"])]
        return ObjectMetrics.render(rollouts: rollouts, runs: runs)
    }

    /// Every swift-metrics family the controller registers, made as the
    /// PrometheusMetricsFactory makes them (so without help), plus the
    /// per-object families: what `/metrics` serves.
    static func fullScrape() -> String {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        factory.makeTimer(label: "aviary_rollout_reconcile", dimensions: []).recordNanoseconds(12_000_000)
        factory.makeTimer(label: "aviary_analysis_run_reconcile", dimensions: []).recordNanoseconds(3_000_000_000)
        factory.makeCounter(label: "aviary_rollout_reconcile_errors_total", dimensions: []).increment(by: 2)
        factory.makeCounter(label: "aviary_analysis_run_reconcile_errors_total", dimensions: []).increment(by: 1)
        let labels = BoundedLabelValues(limit: 1000)
        for name in evilNames + [String(repeating: "x", count: 500)] {
            factory.makeCounter(label: "aviary_analysis_run_measurements_total",
                                dimensions: [("metric", labels.label(for: name)), ("phase", "Successful")]).increment(by: 1)
        }
        factory.makeCounter(label: "aviary_k8s_request_total", dimensions: [("verb", "GET"), ("code", "200")]).increment(by: 7)
        factory.makeCounter(label: "aviary_k8s_request_total", dimensions: [("verb", "PATCH"), ("code", "0")]).increment(by: 1)
        for queue in ["rollouts", "analysisruns"] {
            factory.makeCounter(label: "aviary_workqueue_adds_total", dimensions: [("name", queue)]).increment(by: 3)
            factory.makeCounter(label: "aviary_workqueue_retries_total", dimensions: [("name", queue)]).increment(by: 0)
            factory.makeRecorder(label: "aviary_workqueue_depth", dimensions: [("name", queue)], aggregate: false).record(Int64(1))
        }
        factory.makeRecorder(label: "aviary_leader", dimensions: [], aggregate: false).record(Int64(1))
        factory.makeCounter(label: "aviary_side_effects_dropped_total", dimensions: []).increment(by: 0)
        factory.makeCounter(label: "aviary_notifications_total", dimensions: [("service", "slack"), ("trigger", "on-rollout-aborted"), ("result", "sent")]).increment(by: 1)
        factory.makeTimer(label: "aviary_notification_delivery", dimensions: []).recordNanoseconds(40_000_000)
        factory.makeCounter(label: "aviary_notification_delivery_errors_total", dimensions: []).increment(by: 0)
        return MetricsText.body(registry: registry.emitToString(), objects: evilObjects())
    }

    @Test func objectMetricsParseWhateverTheNames() throws {
        let text = Self.evilObjects()
        let parsed = try Exposition.parse(text)
        // Names come back exactly as written (the text was escaped, not mangled).
        let info = parsed.samples("aviary_rollout_info")
        for name in Self.evilNames {
            #expect(info.contains { $0.label("name") == name && $0.label("namespace") == "ns" }, "rollout \(name.debugDescription)")
        }
        #expect(info.contains { $0.label("name") == "blue" && $0.label("namespace") == "ns\"\\\n" && $0.label("strategy") == "blueGreen" })
        // Control characters never reach the text.
        #expect(info.contains { $0.label("name") == "ctl\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}" })
        let phases = parsed.samples("aviary_analysis_run_metric_phase")
        for name in Self.evilNames {
            #expect(phases.contains { $0.label("name") == "run\"\\\n" && $0.label("metric") == name })
        }
        #expect(phases.contains { $0.label("metric") == "ctl\u{FFFD}\u{FFFD}[31m" })
        #expect(parsed.samples("aviary_rollout_step").count == Self.evilNames.count + 1, "canary Rollouts only")
        #expect(parsed.samples("aviary_rollout_info_replicas_unavailable").allSatisfy { $0.value == 1 })
        #expect(Set(parsed.families.keys) == Set(ObjectMetrics.help.keys))
        // The series the e2e suite looks for keeps its shape.
        #expect(Self.evilObjects().contains("aviary_rollout_info{namespace=\"ns\",name=\"we\\\"ird\",strategy=\"canary\",phase=\"Healthy\"} 1\n"))
    }

    @Test func aRunExportsAtMostFiftyMetricsAndBoundedNames() throws {
        let long = String(repeating: "m", count: 300)
        let metrics = [long, long + "-other-ending"] + (0..<80).map { "metric-\($0)" }
        let parsed = try Exposition.parse(ObjectMetrics.render(rollouts: [], runs: [Self.run("big", metrics: metrics)]))
        let series = parsed.samples("aviary_analysis_run_metric_phase")
        // The two long names are one label once cut: one series, so 49 in all from the first 50 metrics.
        #expect(series.count == ObjectMetrics.maxMetricsPerRun - 1)
        #expect(series.allSatisfy { ($0.label("metric") ?? "").unicodeScalars.count <= MetricsLabel.maxMetricNameLength })
        #expect(series.contains { $0.label("metric") == String(repeating: "m", count: 128) })
        #expect(!series.contains { $0.label("metric") == "metric-48" })
    }

    @Test func theMeasurementMetricLabelIsBounded() {
        let labels = BoundedLabelValues(limit: 3)
        #expect(labels.label(for: "a") == "a")
        #expect(labels.label(for: "b") == "b")
        #expect(labels.label(for: String(repeating: "é", count: 200)) == String(repeating: "é", count: 128))
        #expect(labels.label(for: "d") == "other", "a fourth name counts under other")
        #expect(labels.label(for: "a") == "a", "a name seen before keeps its label")
        #expect(labels.count == 3)
        #expect(ControllerMetrics.measurementMetricLabels.limit == 1000)
    }

    @Test func helpIsAddedToEveryFamilyOnce() throws {
        let text = "# TYPE known counter\nknown 1\n# HELP documented Already.\n# TYPE documented gauge\ndocumented 2\n# TYPE unknown gauge\nunknown 3\n"
        let out = MetricsText.addingHelp(to: text, help: ["known": "Known\\ help\nwith a newline."])
        #expect(out == """
            # HELP known Known\\\\ help\\nwith a newline.
            # TYPE known counter
            known 1
            # HELP documented Already.
            # TYPE documented gauge
            documented 2
            # HELP unknown \(MetricsText.fallbackHelp)
            # TYPE unknown gauge
            unknown 3

            """)
        #expect(MetricsText.addingHelp(to: out) == out, "idempotent")
        #expect(MetricsText.addingHelp(to: "") == "")
        let parsed = try Exposition.parse(out)
        #expect(parsed.families["known"]?.help == "Known\\ help\nwith a newline.")
    }

    @Test func theFullScrapeParsesWithHelpForEveryFamily() throws {
        let text = Self.fullScrape()
        let parsed = try Exposition.parse(text)
        for name in ControllerMetrics.help.keys.sorted() {
            #expect(parsed.families[name]?.help == ControllerMetrics.help[name], "\(name) has our help")
        }
        #expect(parsed.families["aviary_rollout_reconcile"]?.type == "histogram")
        #expect(parsed.families.values.filter { $0.type == "counter" }.allSatisfy { $0.name.hasSuffix("_total") })
        // swift-prometheus escapes the label values it is given: user metric names come back intact.
        let measured = parsed.samples("aviary_analysis_run_measurements_total")
        for name in Self.evilNames { #expect(measured.contains { $0.label("metric") == name }, "\(name.debugDescription)") }
        #expect(measured.contains { $0.label("metric") == String(repeating: "x", count: 128) })
    }

    @Test(arguments: [
        "# TYPE a gauge\na{l=\"x\"y\"} 1\n",          // an unescaped quote
        "# TYPE a gauge\na{l=\"x\\y\"} 1\n",          // an unknown escape
        "# TYPE a gauge\na{l=\"x\ty\"} 1\n",           // a control character
        "# TYPE a gauge\na{l=\"x\"} 1",                 // no final newline
        "a 1\n",                                          // no TYPE
        "# TYPE a gauge\na{l=\"x\"} 1\na{l=\"x\"} 2\n", // a series twice
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n", // a family split
        "# TYPE a gauge\na 1\n# HELP a late\n",         // HELP after samples
        "# TYPE a gauge\n\na 1\n",                       // a blank line
        "# TYPE a gauge\na{l=\"x\",} 1\n",             // a trailing comma
        "# TYPE a gauge\na one\n",                        // not a number
        "# TYPE 1a gauge\n",                              // a bad name
    ])
    func theParserIsStrict(text: String) {
        #expect(throws: Exposition.ParseError.self) { try Exposition.parse(text) }
    }

    @Test func promtoolAcceptsTheFullScrape() async throws {
        let text = Self.fullScrape()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("aviary-metrics-\(UUID().uuidString).txt")
        try Data(text.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await PromTool.checkMetrics(file: file)
        #expect(result.status == 0, "promtool check metrics:\n\(result.output)\n--- the text ---\n\(text)")
    }
}

/// `promtool check metrics < FILE`. promtool is required: scripts/install-deps.sh
/// installs Debian's `prometheus` package, which ships it.
enum PromTool {
    static func path() throws -> String {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin", "/usr/local/bin"]
        for dir in dirs where FileManager.default.isExecutableFile(atPath: "\(dir)/promtool") { return "\(dir)/promtool" }
        throw PromToolMissing()
    }

    struct PromToolMissing: Error, CustomStringConvertible {
        var description: String {
            "promtool is not on the PATH: run scripts/install-deps.sh (it installs Debian's prometheus package, which ships promtool)"
        }
    }

    /// Runs `promtool check metrics` on a thread of its own: every test target shares one process, and a
    /// child process waited for on one of Swift concurrency's few threads would stall the other tests.
    static func checkMetrics(file: URL) async throws -> (status: Int32, output: String) {
        let tool = try path()
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: tool)
                    process.arguments = ["check", "metrics"]
                    process.standardInput = try FileHandle(forReadingFrom: file)
                    let pipe = Pipe()
                    process.standardOutput = pipe
                    process.standardError = pipe
                    try process.run()
                    let output = pipe.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
                })
            }.start()
        }
    }
}

/// A strict parser of the Prometheus text exposition format (0.0.4): one line
/// per HELP, TYPE or sample, no blank lines, no other comments; HELP and TYPE
/// at most once per family and before its samples; a family's lines together;
/// metric and label names by the grammar; label values quoted with only the
/// three escapes (`\\`, `\"`, `\n`); values as floats; no series twice.
struct Exposition {
    struct Sample {
        var name: String
        var labels: [(String, String)]
        var value: Double
        func label(_ key: String) -> String? { labels.first { $0.0 == key }?.1 }
    }

    struct Family {
        var name: String
        var help: String?
        var type: String?
        var samples: [Sample] = []
    }

    struct ParseError: Error, CustomStringConvertible {
        var line: Int
        var text: Substring
        var why: String
        var description: String { "line \(line): \(why): \(text.debugDescription)" }
    }

    var families: [String: Family] = [:]

    func samples(_ family: String) -> [Sample] { families[family]?.samples ?? [] }

    static func parse(_ text: String) throws -> Exposition {
        var result = Exposition()
        guard !text.isEmpty else { return result }
        guard text.hasSuffix("\n") else { throw ParseError(line: 0, text: "", why: "the text does not end with a newline") }
        var finished = Set<String>()
        var current: String?
        var series = Set<String>()
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            func fail(_ why: String) -> ParseError { ParseError(line: index + 1, text: line, why: why) }
            func enter(_ family: String) throws {
                guard family != current else { return }
                if let current { finished.insert(current) }
                guard !finished.contains(family) else { throw fail("family \(family) is not together") }
                current = family
            }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3, omittingEmptySubsequences: false)
                guard parts.count >= 3, parts[0] == "#", parts[1] == "HELP" || parts[1] == "TYPE" else { throw fail("a comment that is not HELP or TYPE") }
                let name = String(parts[2])
                guard isMetricName(name) else { throw fail("bad metric name") }
                try enter(name)
                var family = result.families[name] ?? Family(name: name)
                guard family.samples.isEmpty else { throw fail("\(parts[1]) after samples") }
                if parts[1] == "HELP" {
                    guard family.help == nil else { throw fail("a second HELP") }
                    guard parts.count == 4 else { throw fail("HELP without text") }
                    guard let help = unescapeHelp(parts[3]) else { throw fail("bad escape in HELP") }
                    family.help = help
                } else {
                    guard family.type == nil else { throw fail("a second TYPE") }
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else { throw fail("bad TYPE") }
                    family.type = String(parts[3])
                }
                result.families[name] = family
                continue
            }
            guard let sample = parseSample(line) else { throw fail("not a sample") }
            let familyName: String
            if result.families[sample.name]?.type != nil {
                familyName = sample.name
            } else if let base = ["_bucket", "_sum", "_count"].compactMap({ suffix in
                sample.name.hasSuffix(suffix) ? String(sample.name.dropLast(suffix.count)) : nil
            }).first, let type = result.families[base]?.type, type == "histogram" || (type == "summary" && !sample.name.hasSuffix("_bucket")) {
                familyName = base
                if sample.name.hasSuffix("_bucket") { guard sample.label("le") != nil else { throw fail("a bucket without le") } }
            } else {
                throw fail("a sample of a family with no TYPE")
            }
            try enter(familyName)
            let key = sample.name + "{" + sample.labels.sorted { $0.0 < $1.0 }.map { "\($0.0)=\($0.1.debugDescription)" }.joined(separator: ",") + "}"
            guard series.insert(key).inserted else { throw fail("a series twice") }
            result.families[familyName]?.samples.append(sample)
        }
        return result
    }

    static func isMetricName(_ s: some StringProtocol) -> Bool {
        guard let first = s.unicodeScalars.first, first.isASCIILetter || first == "_" || first == ":" else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" || $0 == ":" }
    }

    static func isLabelName(_ s: some StringProtocol) -> Bool {
        guard let first = s.unicodeScalars.first, first.isASCIILetter || first == "_" else { return false }
        return s.unicodeScalars.allSatisfy { $0.isASCIILetter || $0.isASCIIDigit || $0 == "_" }
    }

    static func unescapeHelp(_ s: Substring) -> String? {
        var out = "", escaped = false
        for c in s.unicodeScalars {
            if escaped {
                switch c {
                case "\\": out += "\\"
                case "n": out += "\n"
                default: return nil
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.unicodeScalars.append(c)
            }
        }
        return escaped ? nil : out
    }

    /// `name{label="value",…} value [timestamp]`
    static func parseSample(_ line: Substring) -> Sample? {
        let scalars = Array(line.unicodeScalars)
        var i = 0
        var name = ""
        while i < scalars.count, scalars[i] != "{", scalars[i] != " " { name.unicodeScalars.append(scalars[i]); i += 1 }
        guard isMetricName(name) else { return nil }
        var labels: [(String, String)] = []
        if i < scalars.count, scalars[i] == "{" {
            i += 1
            while true {
                guard i < scalars.count else { return nil }
                if scalars[i] == "}", labels.isEmpty { i += 1; break }
                var key = ""
                while i < scalars.count, scalars[i] != "=" { key.unicodeScalars.append(scalars[i]); i += 1 }
                guard isLabelName(key), !labels.contains(where: { $0.0 == key }), i + 1 < scalars.count, scalars[i + 1] == "\"" else { return nil }
                i += 2
                var value = ""
                while true {
                    guard i < scalars.count else { return nil }
                    let c = scalars[i]
                    i += 1
                    if c == "\"" { break }
                    if c == "\\" {
                        guard i < scalars.count else { return nil }
                        switch scalars[i] {
                        case "\\": value += "\\"
                        case "\"": value += "\""
                        case "n": value += "\n"
                        default: return nil
                        }
                        i += 1
                    } else {
                        guard c.value >= 0x20, c.value != 0x7F else { return nil }
                        value.unicodeScalars.append(c)
                    }
                }
                labels.append((key, value))
                guard i < scalars.count else { return nil }
                if scalars[i] == "," { i += 1; continue }
                if scalars[i] == "}" { i += 1; break }
                return nil
            }
        }
        guard i < scalars.count, scalars[i] == " " else { return nil }
        let rest = String(String.UnicodeScalarView(scalars[(i + 1)...])).split(separator: " ", omittingEmptySubsequences: false)
        guard rest.count == 1 || (rest.count == 2 && Int64(rest[1]) != nil), let value = parseValue(rest[0]) else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }

    static func parseValue(_ s: Substring) -> Double? {
        switch s {
        case "+Inf": return .infinity
        case "-Inf": return -.infinity
        case "NaN": return .nan
        default:
            guard s.unicodeScalars.allSatisfy({ $0.isASCIIDigit || "+-.eE".unicodeScalars.contains($0) }) else { return nil }
            return Double(s)
        }
    }
}

extension Unicode.Scalar {
    var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
