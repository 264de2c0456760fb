import AviaryAPI
import Foundation
import Kube
import TestSupport
import Testing

/// What a platform team tries before putting a cluster-wide controller in a
/// shared cluster: one controller process; in one namespace, objects written
/// to hurt it (extreme numbers, unreadable specs and statuses, hostile
/// expressions and provider addresses, names that break text formats), some
/// through the API and some straight into etcd as an older object or another
/// writer would leave them. After each, the same process is alive, a good
/// Rollout in another namespace still completes an update, and the hostile
/// object says what is wrong with it.
@Suite(.serialized) struct HostileInputE2ETests {
    /// The controller, sharded by a label of its own so it touches nothing of the other tests.
    struct Harness {
        let client: KubeClient
        let shard: String
        let metricsPort: Int
        var controller: ControllerProcess
        let good: RolloutProbe
        let bad: String
        var version = 1

        static func start() async throws -> Harness {
            let client = try TestCluster.client()
            try await TestCluster.installCRDs()
            let shard = "hostile-\(UInt32.random(in: 0...UInt32.max) % 1_000_000)"
            let port = try freeLoopbackPort()
            let controller = try Self.controller(shard: shard, metricsPort: port)
            let goodNS = try await TestCluster.namespace("hostile-good", client: client)
            let bad = try await TestCluster.namespace("hostile-bad", client: client)
            for doc in try TestCluster.example("canary-rollout.yaml") {
                if doc["kind"] == "Rollout" {
                    let r = doc.overlaid(with: ["metadata": ["labels": .object([instanceIDLabel: .string(shard)])], "spec": ["replicas": 2]])
                        .setting(["spec", "strategy", "canary", "steps"], to: [["setWeight": 50]])
                    let _: JSONValue = try await client.create(Rollout.resource, r, namespace: goodNS)
                } else {
                    let _: JSONValue = try await client.create(.services, doc, namespace: goodNS)
                }
            }
            let good = RolloutProbe(client: client, namespace: goodNS, name: "web")
            try await good.wait("the good Rollout Healthy") { $0.status?.phase == .Healthy && $0.status?.availableReplicas == 2 }
            return Harness(client: client, shard: shard, metricsPort: port, controller: controller, good: good, bad: bad)
        }

        static func controller(shard: String, metricsPort: Int) throws -> ControllerProcess {
            try ControllerProcess(namespace: nil, arguments: [
                "--leader-elect", "false", "--instance-id", shard, "--metrics-addr", "127.0.0.1:\(metricsPort)",
                "--provider-max-response-bytes", "4096",
            ])
        }

        /// The proof after each case: the process lives, and the good Rollout completes an update.
        mutating func stillServes(after what: String) async throws {
            #expect(controller.isRunning, "the controller died after \(what)")
            guard controller.isRunning else { throw CancellationError() }
            version += 1
            let image = "registry.example/web:\(version).0"
            try await good.setImage(image)
            try await good.wait("the good Rollout to complete \(image) after \(what)", timeout: .seconds(60)) { r in
                guard r.status?.phase == .Healthy, let hash = r.status?.currentPodHash, r.status?.stableRS == hash else { return false }
                return try await good.sizes()[image]?.available == 2
            }
        }

        func labelled(_ object: JSONValue) -> JSONValue {
            object.overlaid(with: ["metadata": ["labels": .object([instanceIDLabel: .string(shard)])]])
        }

        /// A minimal canary Rollout in the bad namespace; `steps` replace its one setWeight step.
        func rollout(_ name: String, steps: JSONValue = [["setWeight": 50]], spec extra: JSONValue = [:]) -> JSONValue {
            let base: JSONValue = [
                "apiVersion": "aviary.dev/v1alpha1", "kind": "Rollout", "metadata": ["name": .string(name)],
                "spec": [
                    "replicas": 1, "selector": ["matchLabels": ["app": .string(name)]],
                    "template": ["metadata": ["labels": ["app": .string(name)]], "spec": ["containers": [["name": "c", "image": "registry.example/x:1"]]]],
                    "strategy": ["canary": [:]],
                ],
            ]
            return labelled(base.overlaid(with: ["spec": extra]).setting(["spec", "strategy", "canary", "steps"], to: steps))
        }

        func create(_ resource: Resource, _ object: JSONValue) async throws {
            let _: JSONValue = try await client.create(resource, object, namespace: bad)
        }

        func get(_ resource: Resource, _ name: String) async throws -> JSONValue {
            try await client.get(resource, name, namespace: bad)
        }

        /// The object as stored, with `change` applied, written straight into
        /// etcd: what an older version, another writer or a schema-less
        /// install leaves there, past the API server's validation.
        func plantInEtcd(_ resource: Resource, _ name: String, _ change: (JSONValue) -> JSONValue) async throws {
            var stored = try await get(resource, name)
            stored = change(stored).setting(["metadata", "resourceVersion"], to: .null)
            let body = try JSONEncoder().encode(stored)
            let endpoint = "http://127.0.0.1:" + (try String(contentsOfFile: try TestCluster.directory + "/etcd.port", encoding: .utf8))
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let key = "/registry/\(resource.group)/\(resource.plural)/\(bad)/\(name)"
            let put = try await runProcess("/usr/bin/env", ["etcdctl", "--endpoints", endpoint, "put", key],
                                           environment: ProcessInfo.processInfo.environment.merging(["ETCDCTL_API": "3"]) { _, new in new },
                                           input: body, mergeOutput: true)
            #expect(put.status == 0, "etcdctl put \(key): \(String(decoding: put.stdout, as: UTF8.self))")
        }

        func events(of name: String) async throws -> [(reason: String, message: String)] {
            try await RolloutProbe(client: client, namespace: bad, name: name).events()
        }

        func invalidSpecMessage(_ name: String) async throws -> String? {
            let r = try await get(Rollout.resource, name)
            guard case .array(let conditions)? = r["status"]?["conditions"] else { return nil }
            return conditions.first { $0["type"] == "InvalidSpec" }?["message"]?.stringValue
        }

        func runMessage(_ name: String) async throws -> (phase: String?, message: String?) {
            let run = try await get(AnalysisRun.resource, name)
            return (run["status"]?["phase"]?.stringValue, run["status"]?["message"]?.stringValue)
        }

        func scrape() async throws -> String {
            let r = try await CurlEngine.shared.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(metricsPort)/metrics"))
            return String(decoding: r.body, as: UTF8.self)
        }

        func finish() async {
            controller.kill()
            await TestCluster.deleteNamespace(good.namespace, client: client)
            await TestCluster.deleteNamespace(bad, client: client)
        }
    }

    @Test func nothingAUserWritesStopsBlindsOrMisleadsTheController() async throws {
        var h = try await Harness.start()
        do {
            try await extremeNumbersInASpec(&h)
            try await unreadableStatusesAndARestart(&h)
            try await unreadableAndDeepSpecs(&h)
            try await hostileConditions(&h)
            try await hostileProviders(&h)
            try await namesThatBreakTextFormats(&h)
        } catch {
            await h.finish()
            throw error
        }
        await h.finish()
    }

    func extremeNumbersInASpec(_ h: inout Harness) async throws {
        let year = "is longer than the largest duration aviary accepts (31536000s, one year)"
        let cases: [(String, JSONValue?, JSONValue, String)] = [
            ("pause-inf", [["pause": ["duration": "inf"]]], [:], "spec.strategy.canary.steps[0].pause.duration: \"inf\" \(year)"),
            ("pause-1e19", [["pause": ["duration": "1e19"]]], [:], "spec.strategy.canary.steps[0].pause.duration: \"1e19\" \(year)"),
            ("surge", nil, ["strategy": ["canary": ["maxSurge": "9223372036854775807%"]]],
             "spec.strategy.canary.maxSurge: \"9223372036854775807%\" is not an integer from 0 to 1000000 nor a percentage from 0% to 1000%"),
            ("replicas", nil, ["replicas": 2_000_000_000], "spec.replicas: 2000000000 is outside 0–1000000"),
            ("deadline", nil, ["progressDeadlineSeconds": 99_999_999_999], "spec.progressDeadlineSeconds: 99999999999s is outside 0–31536000s"),
        ]
        for (name, steps, spec, _) in cases {
            try await h.create(Rollout.resource, h.rollout("r-\(name)", steps: steps ?? [["setWeight": 50]], spec: spec))
        }
        for (name, _, _, message) in cases {
            try await eventually("r-\(name) to say InvalidSpec", timeout: .seconds(60)) { try await h.invalidSpecMessage("r-\(name)") == message }
            #expect(try await h.get(Rollout.resource, "r-\(name)")["status"]?["phase"] == "Degraded")
        }
        let rs: ObjectList<ReplicaSet> = try await h.client.list(.replicaSets, namespace: h.bad)
        #expect(rs.items.isEmpty, "an invalid spec scales nothing")
        try await h.stillServes(after: "extreme numbers in a spec")
    }

    func unreadableStatusesAndARestart(_ h: inout Harness) async throws {
        try await h.create(Rollout.resource, h.rollout("r-status"))
        try await eventually("r-status Healthy", timeout: .seconds(30)) { try await h.get(Rollout.resource, "r-status")["status"]?["phase"] == "Healthy" }
        let hostile: JSONValue = [
            "phase": "Exploded", "currentStepIndex": -5, "availableReplicas": "many", "abortedAt": "soon",
            "pauseConditions": [["reason": "Lunch", "startTime": "noon"]], "conditions": [["type": "Hungry", "status": "Maybe"]],
        ]
        try await h.plantInEtcd(Rollout.resource, "r-status") { $0.overlaid(with: ["status": hostile]) }
        try await eventually("r-status repaired", timeout: .seconds(60)) {
            let s = try await h.get(Rollout.resource, "r-status")["status"]
            return s?["phase"] == "Healthy" && s?["pauseConditions"] == nil && s?["abortedAt"] == nil
        }
        let repaired = try await h.events(of: "r-status").filter { $0.reason == "StatusRepaired" }.map(\.message).joined(separator: " ")
        #expect(repaired.contains("status.phase could not be read and is rewritten"), "the repair is said: \(repaired)")
        #expect(repaired.contains("status.currentStepIndex could not be read"))

        // The same status again, then a restart: every cache must list past it.
        try await h.plantInEtcd(Rollout.resource, "r-status") { $0.overlaid(with: ["status": hostile]) }
        h.controller.kill()
        h.controller = try Harness.controller(shard: h.shard, metricsPort: h.metricsPort)
        try await h.stillServes(after: "an unreadable status and a restart")
        try await eventually("r-status repaired after the restart", timeout: .seconds(60)) {
            try await h.get(Rollout.resource, "r-status")["status"]?["phase"] == "Healthy"
        }
    }

    func unreadableAndDeepSpecs(_ h: inout Harness) async throws {
        // A spec field of the wrong type, as a schema-less install or an older version leaves it.
        try await h.create(Rollout.resource, h.rollout("r-undecodable"))
        try await h.plantInEtcd(Rollout.resource, "r-undecodable") { $0.setting(["spec", "replicas"], to: "many") }
        try await eventually("r-undecodable named as unreadable", timeout: .seconds(60)) {
            try await h.events(of: "r-undecodable").contains {
                $0.reason == "InvalidSpec" && $0.message == "InvalidSpec: the Rollout cannot be read: spec.replicas: expected an integer, found a string"
            }
        }
        // Nested deeper than any JSON decoder reads (the API server takes it): the list must not fail.
        // (Written as text: Foundation's encoder refuses such depth too.)
        let shallow = h.rollout("r-deep").setting(["spec", "template", "x-deep"], to: "DEEP")
        let text = String(decoding: try JSONEncoder().encode(shallow), as: UTF8.self)
            .replacingOccurrences(of: "\"DEEP\"", with: String(repeating: "[", count: 600) + String(repeating: "]", count: 600))
        _ = try await h.client.send("POST", Rollout.resource.path(namespace: h.bad), body: Data(text.utf8), contentType: "application/json")
        try await eventually("r-deep named as unreadable", timeout: .seconds(60)) {
            try await h.events(of: "r-deep").contains { $0.reason == "InvalidSpec" && $0.message.contains("levels deep; aviary reads at most 512") }
        }
        try await h.stillServes(after: "unreadable and deeply nested specs")
    }

    func hostileConditions(_ h: inout Harness) async throws {
        let nested = String(repeating: "(", count: 200) + "result == 1" + String(repeating: ")", count: 200)
        let long = (0..<2500).map { _ in "1" }.joined(separator: "+") + " > 0"
        let chain = (0..<300).map { _ in "true" }.joined(separator: " && ")
        let templates: [(String, String)] = [("t-nested", nested), ("t-long", long), ("t-chain", chain)]
        for (name, condition) in templates {
            try await h.create(AnalysisTemplate.resource, [
                "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisTemplate", "metadata": ["name": .string(name)],
                "spec": ["metrics": [["name": "m", "successCondition": .string(condition), "provider": ["web": ["url": "http://127.0.0.1:1/"]]]]],
            ])
            try await h.create(Rollout.resource, h.rollout("r-\(name)", steps: [["analysis": ["templates": [["templateName": .string(name)]]]]]))
        }
        let expected = [
            "t-nested": "AnalysisTemplate \"t-nested\": metric \"m\": successCondition: column 65: the condition is nested too deeply (more than 64 levels)",
            "t-long": "AnalysisTemplate \"t-long\": metric \"m\": successCondition: column 4097: the condition is 5003 characters long; the limit is 4096",
            "t-chain": "AnalysisTemplate \"t-chain\": metric \"m\": successCondition: column ",
        ]
        for (name, message) in expected {
            try await eventually("r-\(name) to name the condition", timeout: .seconds(60)) {
                try await h.invalidSpecMessage("r-\(name)")?.contains(message) == true
            }
        }
        #expect(try await h.invalidSpecMessage("r-t-chain")?.contains("nested too deeply") == true)
        try await h.stillServes(after: "hostile conditions")
    }

    func hostileProviders(_ h: inout Harness) async throws {
        let prometheus = try AnalysisE2ETests.prometheusURL
        let silent = try SilentListener()
        defer { silent.close() }
        func run(_ name: String, _ metric: JSONValue) -> JSONValue {
            h.labelled(["apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisRun", "metadata": ["name": .string(name)],
                        "spec": ["metrics": [metric.overlaid(with: ["name": "m", "consecutiveErrorLimit": 0])]]])
        }
        let cases: [(String, JSONValue, String)] = [
            ("run-file", ["provider": ["web": ["url": "file:///etc/passwd"]]], "the URL scheme \"file\" is not allowed"),
            ("run-gopher", ["provider": ["web": ["url": "gopher://127.0.0.1:70/"]]], "the URL scheme \"gopher\" is not allowed"),
            ("run-redirect", ["provider": ["web": ["url": .string(prometheus + "/")]]], "not followed (redirects never are)"),
            ("run-silent", ["provider": ["web": ["url": .string("http://127.0.0.1:\(silent.port)/"), "timeoutSeconds": 2]]], "timed out"),
            ("run-big", ["provider": ["web": ["url": .string(prometheus + "/metrics")]]], "response larger than 4096 bytes"),
            ("run-interval", ["interval": "1e19", "provider": ["web": ["url": "http://127.0.0.1:1/"]]],
             "metric \"m\": interval: \"1e19\" is longer than the largest duration aviary accepts"),
            ("run-method", ["provider": ["web": ["url": "http://127.0.0.1:1/", "method": "TRACE"]]], "method \"TRACE\" is not allowed"),
            ("run-header", ["provider": ["web": ["url": "http://127.0.0.1:1/", "headers": [["key": "X-A", "value": "a\r\nX-Injected: 1"]]]]],
             "header \"X-A\" has a line break"),
        ]
        for (name, metric, _) in cases { try await h.create(AnalysisRun.resource, run(name, metric)) }
        for (name, _, message) in cases {
            try await eventually("\(name) to end in Error naming why", timeout: .seconds(30)) {
                let (phase, said) = try await h.runMessage(name)
                return phase == "Error" && said?.contains(message) == true
            }
        }
        try await h.stillServes(after: "hostile providers")
    }

    func namesThatBreakTextFormats(_ h: inout Harness) async throws {
        let name = "quo\"te\nnew\\line {x=\"y\"} # HELP"
        try await h.create(AnalysisRun.resource, h.labelled([
            "apiVersion": "aviary.dev/v1alpha1", "kind": "AnalysisRun", "metadata": ["name": "run-names"],
            "spec": ["metrics": [["name": .string(name), "provider": ["web": ["url": .string(try AnalysisE2ETests.prometheusURL + "/-/healthy")]]]]],
        ]))
        try await eventually("run-names Successful", timeout: .seconds(30)) { try await h.runMessage("run-names").phase == "Successful" }
        let text = try await h.scrape()
        #expect(text.contains("aviary_analysis_run_metric_phase{namespace=\"\(h.bad)\",name=\"run-names\",metric=\"quo\\\"te\\nnew\\\\line"))
        let file = NSTemporaryDirectory() + "aviary-scrape-\(UUID().uuidString.prefix(6)).txt"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let (status, said) = try await runCommand("/bin/sh", ["-c", "promtool check metrics < '\(file)'"])
        #expect(status == 0, "promtool check metrics on a scrape: \(said)")
        try await h.stillServes(after: "names with quotes and newlines")
    }
}

/// A port on 127.0.0.1 nothing listens on right now.
func freeLoopbackPort() throws -> Int {
    let listener = try SilentListener()
    defer { listener.close() }
    return listener.port
}

/// A TCP port that accepts connections (the kernel completes the handshake)
/// and never answers: a provider that hangs.
final class SilentListener: @unchecked Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        (fd, port) = try Loopback.listen()
    }

    func close() { _ = Glibc.close(fd) }
}
