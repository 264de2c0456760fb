import ArgumentParser
import Foundation
import Kube
import Logging

/// The pod-readiness simulator. The local control plane has no kubelet, so
/// pods would stay Pending forever; this watches pods and marks them Running
/// and Ready through the status subresource, after a delay.
///
/// A pod template steers it with annotations:
/// - `podsim.aviary.dev/ready: "false"` keeps its pods Running but never Ready;
/// - `podsim.aviary.dev/ready-after: "3s"` overrides the delay;
/// - `podsim.aviary.dev/restarts: "2"` reports that many container restarts;
/// - `podsim.aviary.dev/termination-reason: "OOMKilled"` reports it as the
///   containers' last termination (exit code 137 for OOMKilled, else 1);
/// - `podsim.aviary.dev/waiting-reason: "CrashLoopBackOff"` (or
///   `ImagePullBackOff`, …) keeps the containers waiting with that reason,
///   never Ready (the pod Pending for an image pull reason);
/// - a pod that runs to completion (a Job's: restartPolicy Never or OnFailure)
///   Succeeds after the delay, or Fails with `podsim.aviary.dev/exit-code: "1"`;
/// - `podsim.aviary.dev/error-rate`, `podsim.aviary.dev/latency` and `latency-jitter` shape the
///   simulated traffic its Ready pods serve (see `Traffic`), which follows
///   Istio and Gateway API routes where there are any (see `RoutingPlan`);
/// - `podsim.aviary.dev/memory: "0.95"` sets its containers' working set as a
///   share of their memory limit, served as cAdvisor's
///   `container_memory_working_set_bytes` and `container_spec_memory_limit_bytes`
///   (see `ResourceUsage`).
@main
struct PodSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "aviary-podsim",
        abstract: "Mark pods Running and Ready on a cluster without kubelets.")

    @Option(help: "Path to a kubeconfig file.")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use.")
    var context: String?

    @Option(help: "Default delay before a new pod becomes Ready, e.g. 500ms, 1s.")
    var readyAfter = "1s"

    @Option(help: "Serve simulated request metrics on 127.0.0.1:PORT/metrics (0: off).")
    var metricsPort: UInt16 = 0

    @Option(help: "Requests per second each Ready pod serves.")
    var requestsPerPod: Double = 10

    @Option(help: "The header a share of the simulated requests carries, for header routes.")
    var testHeaderName = "X-Canary"

    @Option(help: "The test header's value.")
    var testHeaderValue = "true"

    @Option(help: "The share (0...1) of each route's simulated requests that carry the test header.")
    var testHeaderShare: Double = 0.1

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "aviary.podsim")
        guard let delay = PodAnnotations.parseDuration(readyAfter) else {
            throw ValidationError("--ready-after: \"\(readyAfter)\" is not a duration like 500ms or 2s")
        }
        let client = KubeClient(access: try ClusterAccess.load(kubeconfig: kubeconfig, context: context), qps: 200, burst: 400)
        let marker = ReadinessMarker(client: client, defaultDelay: delay, logger: logger)
        guard testHeaderShare.isFinite, (0...1).contains(testHeaderShare) else {
            throw ValidationError("--test-header-share: \(testHeaderShare) is not between 0 and 1")
        }
        let traffic = Traffic(requestsPerPod: requestsPerPod, taggedShare: testHeaderShare)
        let routes = RouteWatcher(client: client, traffic: traffic,
                                  requests: SimulatedRequest.kinds(testHeader: testHeaderName, value: testHeaderValue), logger: logger)
        logger.info("watching pods on \(client.access.server); ready after \(readyAfter)\(metricsPort > 0 ? "; metrics on 127.0.0.1:\(metricsPort)" : "")")
        try await withThrowingTaskGroup(of: Void.self) { group in
            if metricsPort > 0 {
                let resources = ResourceUsage()
                group.addTask { [metricsPort] in try await traffic.serve(port: metricsPort, also: { await resources.exposition() }) }
                group.addTask { await routes.run() }
                group.addTask { await resources.watch(client: client, logger: logger) }
            }
            group.addTask {
                for try await event in Reflector<Pod>(client: client, resource: .pods) {
                    switch event {
                    case .replaced(let pods, _):
                        await traffic.reset()
                        for pod in pods {
                            await marker.consider(pod)
                            await traffic.observe(pod)
                        }
                    case .added(let pod), .modified(let pod):
                        await marker.consider(pod)
                        await traffic.observe(pod)
                    case .deleted(let pod):
                        await marker.forget(pod)
                        await traffic.forget(pod)
                    case .undecodable(let u, _):
                        logger.warning("pod \(u.metadata.namespace ?? "")/\(u.metadata.name ?? "") does not decode: \(u.error)")
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}

/// The annotations a pod template can carry to steer the simulator.
enum PodAnnotations {
    static let ready = "podsim.aviary.dev/ready"
    static let readyAfter = "podsim.aviary.dev/ready-after"
    static let restarts = "podsim.aviary.dev/restarts"
    static let exitCode = "podsim.aviary.dev/exit-code"
    static let terminationReason = "podsim.aviary.dev/termination-reason"
    static let waitingReason = "podsim.aviary.dev/waiting-reason"

    /// "250ms", "2s", "1m", or plain seconds.
    static func parseDuration(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let (number, scale): (Substring, Double) =
            t.hasSuffix("ms") ? (t.dropLast(2), 1) : t.hasSuffix("s") ? (t.dropLast(1), 1000) : t.hasSuffix("m") ? (t.dropLast(1), 60_000) : (Substring(t), 1000)
        // An annotation is anyone's: a day at most, never negative, NaN or past Int64.
        guard let v = Double(number), v.isFinite else { return nil }
        return .milliseconds(Int64(min(max(v * scale, 0), 86_400_000)))
    }
}

/// Decides, per pod, whether and when to write a Running/Ready status.
actor ReadinessMarker {
    let client: KubeClient
    let defaultDelay: Duration
    let logger: Logger
    private var pending: [String: Task<Void, Never>] = [:]

    init(client: KubeClient, defaultDelay: Duration, logger: Logger) {
        self.client = client
        self.defaultDelay = defaultDelay
        self.logger = logger
    }

    func consider(_ pod: Pod) {
        guard let uid = pod.metadata.uid, pod.metadata.deletionTimestamp == nil, pending[uid] == nil else { return }
        let annotations = pod.metadata.annotations ?? [:]
        if let policy = pod.spec?.restartPolicy, policy != "Always" {
            complete(pod, uid: uid, exitCode: Int(annotations[PodAnnotations.exitCode] ?? "") ?? 0)
            return
        }
        let waiting = annotations[PodAnnotations.waitingReason].flatMap { $0.isEmpty ? nil : $0 }
        let terminated = annotations[PodAnnotations.terminationReason].flatMap { $0.isEmpty ? nil : $0 }
        let wantReady = annotations[PodAnnotations.ready] != "false" && waiting == nil
        let restarts = Int(annotations[PodAnnotations.restarts] ?? "") ?? 0
        let running = pod.status?.phase == "Running"
        let reportedRestarts = pod.status?.containerStatuses?.first?["restartCount"].flatMap { v -> Int? in
            if case .number(let n) = v, n.isFinite, abs(n) < 1e9 { return Int(n) } else { return nil }
        } ?? -1
        let reported = pod.status?.containerStatuses?.first
        let reportedWaiting = reported?["state"]?["waiting"]?["reason"]?.stringValue
        let reportedTerminated = reported?["lastState"]?["terminated"]?["reason"]?.stringValue
        let placed = running || reportedWaiting != nil
        if placed, pod.isReady == wantReady, reportedRestarts == restarts, reportedWaiting == waiting, reportedTerminated == terminated { return }
        let delay = annotations[PodAnnotations.readyAfter].flatMap(PodAnnotations.parseDuration) ?? defaultDelay
        pending[uid] = Task { [client, logger] in
            try? await Task.sleep(for: placed ? .zero : delay)
            if !Task.isCancelled {
                do {
                    let status = Self.status(for: pod, ready: wantReady, restarts: restarts, waiting: waiting, terminated: terminated)
                    let _: Pod = try await client.patch(.pods, pod.metadata.name ?? "", namespace: pod.metadata.namespace, .merge(status),
                                                        subresource: "status")
                } catch let error as KubeError where error.isNotFound {
                    // Deleted meanwhile: nothing to do.
                } catch {
                    logger.warning("cannot mark pod \(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? ""): \(error)")
                }
            }
            self.done(uid)
        }
    }

    /// A pod that runs to completion: it exits after the delay.
    func complete(_ pod: Pod, uid: String, exitCode: Int) {
        guard pod.status?.phase != "Succeeded", pod.status?.phase != "Failed" else { return }
        let delay = pod.metadata.annotations?[PodAnnotations.readyAfter].flatMap(PodAnnotations.parseDuration) ?? defaultDelay
        pending[uid] = Task { [client, logger] in
            try? await Task.sleep(for: delay)
            if !Task.isCancelled {
                let now = JSONValue.string(KubeTime.now().description)
                let containers: [JSONValue] = (pod.spec?.containers ?? []).map { c in
                    ["name": .string(c.name), "image": .string(c.image ?? ""), "imageID": "", "ready": false, "restartCount": 0,
                     "state": ["terminated": ["exitCode": .number(Double(exitCode)), "startedAt": now, "finishedAt": now,
                                              "reason": exitCode == 0 ? "Completed" : "Error"]]]
                }
                let status: JSONValue = ["status": ["phase": exitCode == 0 ? "Succeeded" : "Failed", "startTime": now,
                                                    "containerStatuses": .array(containers)]]
                do {
                    let _: Pod = try await client.patch(.pods, pod.metadata.name ?? "", namespace: pod.metadata.namespace, .merge(status),
                                                        subresource: "status")
                } catch {
                    logger.warning("cannot complete pod \(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? ""): \(error)")
                }
            }
            self.done(uid)
        }
    }

    func forget(_ pod: Pod) {
        guard let uid = pod.metadata.uid else { return }
        pending.removeValue(forKey: uid)?.cancel()
    }

    private func done(_ uid: String) {
        pending[uid] = nil
    }

    static func status(for pod: Pod, ready: Bool, restarts: Int, waiting: String? = nil, terminated: String? = nil) -> JSONValue {
        let now = JSONValue.string(KubeTime.now().description)
        let flag: JSONValue = ready ? "True" : "False"
        let hash = UInt32(truncatingIfNeeded: (pod.metadata.uid ?? "").hashValue)
        let ip = "10.244.\((hash >> 8) & 0xff).\(max(1, hash & 0xff))"
        let containers: [JSONValue] = (pod.spec?.containers ?? []).map { c in
            [
                "name": .string(c.name),
                "image": .string(c.image ?? ""),
                "imageID": "",
                "ready": .bool(ready),
                "started": true,
                "restartCount": .number(Double(restarts)),
                "state": waiting.map { ["waiting": ["reason": .string($0), "message": "simulated by aviary-podsim"]] } ?? ["running": ["startedAt": now]],
                "lastState": terminated.map { reason in
                    ["terminated": ["reason": .string(reason), "exitCode": reason == "OOMKilled" ? 137 : 1, "startedAt": now, "finishedAt": now]]
                } ?? [:],
            ]
        }
        let pulling = waiting.map { $0.contains("Image") } ?? false
        return [
            "status": [
                "phase": pulling ? "Pending" : "Running",
                "podIP": .string(ip),
                "podIPs": [["ip": .string(ip)]],
                "hostIP": "127.0.0.1",
                "startTime": now,
                "conditions": [
                    ["type": "PodScheduled", "status": "True", "lastTransitionTime": now],
                    ["type": "Initialized", "status": "True", "lastTransitionTime": now],
                    ["type": "ContainersReady", "status": flag, "lastTransitionTime": now],
                    ["type": "Ready", "status": flag, "lastTransitionTime": now],
                ],
                "containerStatuses": .array(containers),
            ],
        ]
    }
}
