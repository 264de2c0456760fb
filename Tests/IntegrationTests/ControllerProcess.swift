import AviaryAPI
import Foundation
import Kube
import Rollouts
import Testing

/// The real `aviary controller` binary, run against one test namespace, so a
/// test can kill it (SIGKILL) and start another mid-rollout.
final class ControllerProcess: @unchecked Sendable {
    let process = Process()
    let log: String

    /// - Parameters:
    ///   - namespace: nil for a cluster-wide controller.
    ///   - arguments: more flags; by default no leader election and endpoints on free ports, so tests run side by side.
    ///   - environment: replaces the inherited environment (in-cluster mode).
    init(namespace: String?, arguments: [String] = ["--leader-elect", "false"], kubeconfig: Bool = true,
         environment: [String: String]? = nil, executable: String? = nil) throws {
        let exe = try executable ?? Self.debugBinary()
        guard FileManager.default.isExecutableFile(atPath: exe) else { throw KubeError.config("aviary binary not found at \(exe)") }
        log = NSTemporaryDirectory() + "aviary-controller-\(namespace ?? "cluster")-\(UUID().uuidString.prefix(6)).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: exe)
        process.arguments = ["controller", "--workers", "4", "--metrics-addr", "127.0.0.1:0", "--health-addr", "127.0.0.1:0"]
            + (kubeconfig ? ["--kubeconfig", try TestCluster.kubeconfigPath] : []) + (namespace.map { ["--namespace", $0] } ?? []) + arguments
        if let environment { process.environment = environment }
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    /// The `aviary` built beside this test bundle.
    static func debugBinary() throws -> String {
        let bin = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        var dir = bin
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("aviary").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("aviary").path
    }

    /// SIGKILL; returns once it is gone. Synchronous, since tests kill from
    /// `defer` and `deinit`: a killed process is reaped within milliseconds, so
    /// this holds its thread no longer than that (polled finely, not by
    /// `waitUntilExit`'s 50 ms run-loop turns).
    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        while process.isRunning { usleep(1_000) }
    }

    /// SIGTERM, as Kubernetes stops a pod; waits for the process to exit. A
    /// graceful shutdown takes seconds, so the wait is on a thread of its own,
    /// not one of Swift concurrency's.
    func terminate() async {
        guard process.isRunning else { return }
        process.terminate()
        _ = try? await onOwnThread { [self] in process.waitUntilExit() }
    }

    var isRunning: Bool { process.isRunning }

    /// Where its /metrics answers: the port it bound, as its log says (tests start it on port 0).
    func metricsURL() async throws -> String {
        try await eventuallyValue("the controller's metrics endpoint", timeout: .seconds(30)) { () -> String? in
            let log = (try? String(contentsOfFile: self.log, encoding: .utf8)) ?? ""
            // "metrics endpoint on 127.0.0.1:41234: /metrics"
            guard let said = log.range(of: "metrics endpoint on ") else { return nil }
            let rest = log[said.upperBound...]
            guard let colon = rest.firstIndex(of: ":") else { return nil }
            let port = rest[rest.index(after: colon)...].prefix { $0.isNumber }
            return port.isEmpty ? nil : "http://127.0.0.1:\(port)/metrics"
        }
    }

    /// Writes it has sent the API server so far (POST, PUT, PATCH, DELETE, whatever the answer),
    /// from its own request counter, `aviary_k8s_request_total`.
    func apiWrites() async throws -> Int {
        let r = try await CurlEngine.shared.perform(HTTPRequest(method: "GET", url: try await metricsURL()))
        var writes = 0.0
        for line in String(decoding: r.body, as: UTF8.self).split(separator: "\n") where line.hasPrefix("aviary_k8s_request_total{") {
            guard ["POST", "PUT", "PATCH", "DELETE"].contains(where: { line.contains("verb=\"\($0)\"") }),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            writes += value
        }
        return Int(writes)
    }

    deinit { kill() }
}

/// One end-to-end test's world: its namespace, controller and sampler.
struct E2ESetup {
    let client: KubeClient
    let ns: String
    let probe: RolloutProbe
    var controller: ControllerProcess
    let sampler: ZeroDowntimeSampler

    /// Judges what the sampler saw, then stops the controller and removes the namespace.
    func finish() async {
        let (violations, samples) = await sampler.stop()
        #expect(violations.isEmpty, "zero-downtime invariant broken: \(violations.prefix(5))")
        // The sampler ran throughout (on a loaded 2-core machine a sample can take a second or two).
        #expect(samples >= 5, "the sampler took only \(samples) samples")
        controller.kill()
        await TestCluster.deleteNamespace(ns, client: client)
    }
}

/// Reads a Rollout and its ReplicaSets the way a user would check them.
struct RolloutProbe {
    let client: KubeClient
    let namespace: String
    let name: String

    func rollout() async throws -> Rollout { try await client.get(Rollout.resource, name, namespace: namespace) }

    /// ReplicaSets of the Rollout by image: desired and available pods.
    func sizes() async throws -> [String: (desired: Int, available: Int)] {
        let list: ObjectList<ReplicaSet> = try await client.list(.replicaSets, namespace: namespace)
        var out: [String: (Int, Int)] = [:]
        for rs in list.items {
            guard case .array(let containers)? = rs.spec.template?["spec"]?["containers"], let image = containers.first?["image"]?.stringValue else { continue }
            out[image] = (rs.desiredReplicas, rs.availableReplicas)
        }
        return out
    }

    func desired(_ image: String) async throws -> Int { try await sizes()[image]?.desired ?? 0 }

    func setImage(_ image: String) async throws {
        let r = try await rollout()
        guard case .object(var template)? = r.spec.template, case .object(var spec)? = template["spec"],
              case .array(var containers)? = spec["containers"], case .object(var c)? = containers.first else { return }
        c["image"] = .string(image)
        containers[0] = .object(c)
        spec["containers"] = .array(containers)
        template["spec"] = .object(spec)
        let _: JSONValue = try await client.patch(Rollout.resource, name, namespace: namespace, .merge(["spec": ["template": .object(template)]]))
    }

    /// What `kubectl aviary promote` does (the same `UserAction`).
    func promote() async throws {
        _ = try await client.perform(.promote, on: name, namespace: namespace)
    }

    /// What `kubectl aviary abort` does.
    func abort() async throws {
        _ = try await client.perform(.abort, on: name, namespace: namespace)
    }

    func events() async throws -> [(reason: String, message: String)] {
        let list: ObjectList<JSONValue> = try await client.list(.events, namespace: namespace,
                                                                options: ListOptions(fieldSelector: "involvedObject.name=\(name)"))
        // Oldest first, by eventTime (microseconds): the order things happened.
        return list.items.sorted { ($0["eventTime"]?.stringValue ?? "") < ($1["eventTime"]?.stringValue ?? "") }
            .map { ($0["reason"]?.stringValue ?? "", $0["message"]?.stringValue ?? "") }
    }

    /// Waits until `condition` holds of the Rollout.
    /// On a timeout it also says what it saw last, so a failure on a loaded CI machine can be read from the log.
    func wait(_ what: String, timeout: Duration = .seconds(60), _ condition: (Rollout) async throws -> Bool) async throws {
        var last: Rollout?
        do {
            try await eventually(what, timeout: timeout) {
                let r = try await rollout()
                last = r
                return try await condition(r)
            }
        } catch {
            if let s = last?.status {
                let runs = [s.canary?.currentStepAnalysisRunStatus, s.canary?.currentBackgroundAnalysisRunStatus].compactMap { $0 }
                    .map { "\($0.name) \($0.status.rawValue) \($0.message ?? "")" }
                Issue.record("""
                    last seen: phase \(s.phase?.rawValue ?? "-") (\(s.message ?? "")), step \(s.currentStepIndex.map(String.init) ?? "-"), \
                    pauses \(s.pauseConditions?.map(\.reason.rawValue) ?? []), abort \(s.abort ?? false), runs \(runs)
                    """)
            }
            throw error
        }
    }
}

/// Samples, throughout a test, what users must never see: fewer available
/// pods than replicas − maxUnavailable, or a managed Service selecting a
/// ReplicaSet with no available pods.
actor ZeroDowntimeSampler {
    let client: KubeClient
    let namespace: String
    let minAvailable: Int
    let services: [String]
    /// Services that must always select a ReplicaSet with at least minAvailable available pods (blue-green's active).
    let fullServices: [String]
    private(set) var violations: [String] = []
    private(set) var samples = 0
    private var task: Task<Void, Never>?

    init(client: KubeClient, namespace: String, minAvailable: Int, services: [String], fullServices: [String] = []) {
        self.client = client
        self.namespace = namespace
        self.minAvailable = minAvailable
        self.services = services
        self.fullServices = fullServices
    }

    func start() {
        task = Task { [weak self] in
            while !Task.isCancelled {
                await self?.sample()
                try? await Task.sleep(for: .milliseconds(150))
            }
        }
    }

    func stop() -> (violations: [String], samples: Int) {
        task?.cancel()
        return (violations, samples)
    }

    /// Reads the Services before and after the ReplicaSets; only a selector
    /// that held across the whole read is judged, so a switch in between is
    /// never mistaken for a violation.
    private func sample() async {
        let before = await selectors()
        guard let list: ObjectList<ReplicaSet> = try? await client.list(.replicaSets, namespace: namespace) else { return }
        let after = await selectors()
        samples += 1
        let available = list.items.reduce(0) { $0 + $1.availableReplicas }
        if available < minAvailable { violations.append("only \(available) available pods (minimum \(minAvailable))") }
        for (name, hash) in after where before[name] == hash {
            let target = list.items.first { $0.podTemplateHash == hash }
            if (target?.availableReplicas ?? 0) == 0 { violations.append("service \(name) selects \(hash), which has no available pods") }
            if fullServices.contains(name), (target?.availableReplicas ?? 0) < minAvailable {
                violations.append("service \(name) selects \(hash), which has only \(target?.availableReplicas ?? 0) of \(minAvailable) pods available")
            }
        }
    }

    private func selectors() async -> [String: String] {
        var out: [String: String] = [:]
        for name in services {
            if let svc: Service = try? await client.get(.services, name, namespace: namespace),
               let hash = svc.spec?.selector?[podTemplateHashLabel] {
                out[name] = hash
            }
        }
        return out
    }
}
