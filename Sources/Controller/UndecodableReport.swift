import AviaryAPI
import Foundation
import Kube
import Logging
import Rollouts

/// Objects that exist but do not decode (a field of the wrong type or out of
/// range, in an object older than our schema or written past it) are never
/// acted on, and never stop anything else: they are said, on the object
/// itself, in words that name the field. Each version is said once.
struct UndecodableReporter: Sendable {
    let client: KubeClient
    let executor: Executor
    let logger: Logger
    private let reported = ReportedOnce()

    init(client: KubeClient, executor: Executor, logger: Logger) {
        self.client = client
        self.executor = executor
        self.logger = logger
    }

    /// A Rollout that does not decode: phase Degraded, an InvalidSpec condition and an event naming the field.
    func rollout(_ u: Undecodable) async throws {
        let message = "InvalidSpec: the Rollout cannot be read: \(u.error)"
        guard u.statusMessage != message, reported.claim(u) else { return }
        try executor.fence.check()
        let now = JSONValue.string(KubeTime.now().description)
        let condition: JSONValue = [
            "type": "InvalidSpec", "status": "True", "reason": "InvalidSpec", "message": .string(message),
            "lastUpdateTime": now, "lastTransitionTime": now,
        ]
        executor.effects.send(.event(Rollouts.Event(reason: .invalidSpec, message: message, warning: true), about: u.metadata))
        try await patchStatus(of: u, Rollout.resource, ["phase": "Degraded", "message": .string(message), "conditions": [condition]])
    }

    /// An AnalysisRun that does not decode ends in Error, saying which field.
    func run(_ u: Undecodable) async throws {
        let message = "the AnalysisRun cannot be read: \(u.error)"
        guard u.statusMessage != message, reported.claim(u) else { return }
        try executor.fence.check()
        try await patchStatus(of: u, AnalysisRun.resource,
                              ["phase": "Error", "message": .string(message), "completedAt": .string(KubeTime.now().description)])
    }

    /// What a Rollout sees of an owned run it cannot read: a run in Error
    /// whose message says why, so the update aborts with that reason instead
    /// of waiting forever on a run it cannot see.
    static func standIn(for u: Undecodable) -> AnalysisRun {
        var status = AnalysisRunStatus()
        status.phase = .Error
        status.message = "AnalysisRun \(u.metadata.name ?? "") cannot be read: \(u.error)"
        return AnalysisRun(metadata: u.metadata, spec: AnalysisSpec(metrics: []), status: status)
    }

    /// The answer is not read back: an object that does not decode would not
    /// decode there either. A status the API server refuses (before 1.28 a
    /// status write is validated with the whole object, so a spec outside the
    /// schema blocks it) leaves the event and the log as the report.
    private func patchStatus(of u: Undecodable, _ resource: Resource, _ status: JSONValue) async throws {
        let patch: JSONValue = ["metadata": ["resourceVersion": .string(u.metadata.resourceVersion ?? "")], "status": status]
        do {
            _ = try await client.send("PATCH", resource.path(namespace: u.metadata.namespace, name: u.metadata.name ?? "", subresource: "status"),
                                      body: try JSONEncoder().encode(patch), contentType: Patch.merge(patch).contentType)
        } catch let e as KubeError where e.code == 422 {
            logger.warning("\(resource.plural) \(u.metadata.namespace ?? "")/\(u.metadata.name ?? "") cannot be read (\(u.error)), and its status cannot be written either: \(e)")
        }
    }
}
