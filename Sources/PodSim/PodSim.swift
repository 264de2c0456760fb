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
/// - `podsim.aviary.dev/restarts: "2"` reports that many container restarts.
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

    func run() async throws {
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        let logger = Logger(label: "aviary.podsim")
        guard let delay = PodAnnotations.parseDuration(readyAfter) else {
            throw ValidationError("--ready-after: \"\(readyAfter)\" is not a duration like 500ms or 2s")
        }
        let client = KubeClient(access: try ClusterAccess.load(kubeconfig: kubeconfig, context: context), qps: 200, burst: 400)
        let marker = ReadinessMarker(client: client, defaultDelay: delay, logger: logger)
        logger.info("watching pods on \(client.access.server); ready after \(readyAfter)")
        for try await event in Reflector<Pod>(client: client, resource: .pods) {
            switch event {
            case .replaced(let pods, _):
                for pod in pods { await marker.consider(pod) }
            case .added(let pod), .modified(let pod):
                await marker.consider(pod)
            case .deleted(let pod):
                await marker.forget(pod)
            }
        }
    }
}

/// The annotations a pod template can carry to steer the simulator.
enum PodAnnotations {
    static let ready = "podsim.aviary.dev/ready"
    static let readyAfter = "podsim.aviary.dev/ready-after"
    static let restarts = "podsim.aviary.dev/restarts"

    /// "250ms", "2s", "1m", or plain seconds.
    static func parseDuration(_ text: String) -> Duration? {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasSuffix("ms"), let v = Double(t.dropLast(2)) { return .milliseconds(Int64(v)) }
        if t.hasSuffix("s"), let v = Double(t.dropLast(1)) { return .milliseconds(Int64(v * 1000)) }
        if t.hasSuffix("m"), let v = Double(t.dropLast(1)) { return .milliseconds(Int64(v * 60_000)) }
        if let v = Double(t) { return .milliseconds(Int64(v * 1000)) }
        return nil
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
        let wantReady = annotations[PodAnnotations.ready] != "false"
        let restarts = Int(annotations[PodAnnotations.restarts] ?? "") ?? 0
        let running = pod.status?.phase == "Running"
        let reportedRestarts = pod.status?.containerStatuses?.first?["restartCount"].flatMap { v -> Int? in
            if case .number(let n) = v { return Int(n) } else { return nil }
        } ?? -1
        if running, pod.isReady == wantReady, reportedRestarts == restarts { return }
        let delay = annotations[PodAnnotations.readyAfter].flatMap(PodAnnotations.parseDuration) ?? defaultDelay
        pending[uid] = Task { [client, logger] in
            try? await Task.sleep(for: running ? .zero : delay)
            if !Task.isCancelled {
                do {
                    let _: Pod = try await client.patch(.pods, pod.metadata.name ?? "", namespace: pod.metadata.namespace,
                                                        .merge(Self.status(for: pod, ready: wantReady, restarts: restarts)),
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

    func forget(_ pod: Pod) {
        guard let uid = pod.metadata.uid else { return }
        pending.removeValue(forKey: uid)?.cancel()
    }

    private func done(_ uid: String) {
        pending[uid] = nil
    }

    static func status(for pod: Pod, ready: Bool, restarts: Int) -> JSONValue {
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
                "state": ["running": ["startedAt": now]],
            ]
        }
        return [
            "status": [
                "phase": "Running",
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
