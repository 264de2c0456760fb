import AviaryAPI
import Foundation
import Kube
import Logging
import Notifications
import Plugin
import Rollouts
import Synchronization

/// Sends what a Rollout's status says is owed (`status.notifications.pending`,
/// written by the reconcile that recorded the event) and then removes it
/// from the status: an outbox. A controller killed in between, or a new
/// leader, finds the entry still pending and sends it; one that already
/// sent it has removed it. (The one window left is between a receiver's
/// 2xx and the removal, milliseconds: a message may then go out twice,
/// never zero times.)
///
/// It runs on a work queue of its own, one Rollout at a time per worker, so
/// a slow or dead receiver holds a notification worker and nothing else: a
/// reconcile never waits for it.
public final class NotificationDelivery: Sendable {
    let settings: NotificationSettings
    let sender: NotificationSender
    let executor: Executor
    let caches: Executor.Caches
    let client: KubeClient
    let rollout: @Sendable (ObjectKey) -> Rollout?
    /// What a template may name besides the Rollout, from the caches: its AnalysisRuns and ReplicaSets.
    let related: @Sendable (Rollout) -> (runs: [AnalysisRun], replicaSets: [ReplicaSet])
    let logger: Logger
    public let queue = WorkQueue<ObjectKey>(name: "notifications")
    /// Entries sent by this process whose removal is not yet confirmed, by Rollout UID: never sent twice here.
    private let sent = Mutex<[String: Set<Int>]>([:])

    init(settings: NotificationSettings, sender: NotificationSender, executor: Executor, caches: Executor.Caches, client: KubeClient,
         rollout: @escaping @Sendable (ObjectKey) -> Rollout?,
         related: @escaping @Sendable (Rollout) -> (runs: [AnalysisRun], replicaSets: [ReplicaSet]), logger: Logger) {
        self.settings = settings
        self.sender = sender
        self.executor = executor
        self.caches = caches
        self.client = client
        self.rollout = rollout
        self.related = related
        self.logger = logger
    }

    /// A Rollout has pending notifications: deliver them soon (queued once however often this is called).
    func wake(_ key: ObjectKey) { queue.add(key) }

    /// Workers deliver until the queue is shut down.
    func run(workers: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, workers) {
                group.addTask {
                    await self.queue.work(logger: self.logger, timer: ControllerMetrics.notificationDelivery,
                                          errors: ControllerMetrics.notificationDeliveryErrors) { try await self.deliver($0) }
                }
            }
        }
    }

    /// Sends every pending entry of one Rollout, in order, then records them as done.
    func deliver(_ key: ObjectKey) async throws -> Double? {
        guard executor.fence.isOpen, let current = rollout(key), let uid = current.metadata.uid,
              let pending = current.status?.notifications?.pending, !pending.isEmpty else { return nil }
        let config = await settings.config(for: current.metadata.namespace)
        var oncePer = current.status?.notifications?.oncePer ?? [:]
        let (runs, replicaSets) = related(current)
        let revision = replicaSets.first { $0.podTemplateHash != nil && $0.podTemplateHash == current.status?.currentPodHash }?.revision
        var done = Set<Int>()
        for entry in pending {
            guard executor.fence.isOpen else { return nil }
            if sent.withLock({ $0[uid]?.contains(entry.id) == true }) {
                done.insert(entry.id)
                continue
            }
            // An entry that names no event we know (a hand-written status) is dropped unsent.
            if let reason = EventReason(rawValue: entry.reason) {
                let event = Rollouts.Event(reason: reason, message: String(entry.message.prefix(NotificationLedger.maxMessage)),
                                           warning: entry.warning ?? false, trigger: entry.trigger, run: entry.run)
                // The short post-rollback report, for `{{.report}}` (the built-in on-rollout-aborted template ends with it).
                let report = reason == .rolloutAborted ? "\n" + RolloutReport.brief(rollout: current, analysisRuns: runs, now: entry.time) : ""
                // The run the event is about comes first: `{{.analysis}}` describes it.
                let ordered = runs.filter { $0.metadata.name == entry.run } + runs.filter { $0.metadata.name != entry.run }
                let result = Notifier.notifications(for: event, rollout: current, config: config, time: entry.time, analysisRuns: ordered,
                                                    revision: revision, extra: ["report": .string(report)], sent: oncePer)
                for problem in result.problems { failed(current, problem) }
                for n in result.notifications { await send(n, config: config, about: current) }
                oncePer.merge(result.oncePer) { _, new in new }
            }
            sent.withLock { _ = $0[uid, default: []].insert(entry.id) }
            done.insert(entry.id)
        }
        try await record(done, oncePer: oncePer, key: key)
        sent.withLock { _ = $0.removeValue(forKey: uid) }
        return nil
    }

    /// One notification to every recipient, each request through the sender (retries included).
    func send(_ n: Notifications.Notification, config: NotificationConfig, about rollout: Rollout) async {
        guard let service = config.services[n.service] else { return }
        let requests: [OutgoingRequest]
        do {
            requests = try Payloads.requests(n, service: service)
        } catch {
            ControllerMetrics.notification(service: n.service, trigger: n.trigger, sent: false)
            failed(rollout, "\(n.trigger) to service \(n.service): \(error). Check service.\(service.type.rawValue).\(n.service) in \(NotificationConfig.configMapName)")
            return
        }
        let sender = Self.sender(self.sender, for: service)
        for request in requests {
            switch await sender.send(request) {
            case .sent(_, let attempts):
                ControllerMetrics.notification(service: n.service, trigger: n.trigger, sent: true)
                logger.info("notification \(n.trigger) sent to \(n.service)", metadata: [
                    "namespace": "\(rollout.metadata.namespace ?? "")", "rollout": "\(rollout.metadata.name ?? "")", "attempts": "\(attempts)"])
            case .failed(let why, let attempts):
                ControllerMetrics.notification(service: n.service, trigger: n.trigger, sent: false)
                failed(rollout, "\(n.trigger) to service \(n.service) failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(why). "
                    + "Check the receiver and service.\(service.type.rawValue).\(n.service) in \(settings.namespace)/\(NotificationConfig.configMapName)")
            }
        }
    }

    /// A webhook's own retry settings, as Argo names them (`retryMax`,
    /// `retryWaitMin`, `retryWaitMax`), bounded: at most 10 retries, waits of at most a minute.
    static func sender(_ base: NotificationSender, for service: NotificationService) -> NotificationSender {
        var sender = base
        let s = service.settings
        if let n = s["retryMax"]?.intValue { sender.retryMax = min(max(0, n), 10) }
        func wait(_ key: String) -> Duration? {
            guard let text = s[key]?.stringValue, let seconds = try? DurationText.seconds(text) else { return nil }
            return .milliseconds(Int(min(max(seconds, 0), 60) * 1000))
        }
        if let w = wait("retryWaitMin") { sender.waitMin = w }
        if let w = wait("retryWaitMax") { sender.waitMax = max(w, sender.waitMin) }
        return sender
    }

    /// A failure goes to the log and, as a Warning event, to the Rollout (the text is already redacted).
    func failed(_ rollout: Rollout, _ message: String) {
        logger.warning("notification: \(message)", metadata: ["namespace": "\(rollout.metadata.namespace ?? "")", "rollout": "\(rollout.metadata.name ?? "")"])
        executor.effects.send(.event(Rollouts.Event(reason: .notificationFailed, message: message, warning: true), about: rollout.metadata))
    }

    /// Removes the delivered entries and keeps the oncePer values, by a merge
    /// patch guarded by the resourceVersion read; on a conflict (a reconcile
    /// wrote meanwhile) it reads the Rollout again and retries.
    func record(_ done: Set<Int>, oncePer: [String: String], key: ObjectKey) async throws {
        var attempt = 0
        var current = rollout(key)
        while let r = current {
            attempt += 1
            var ledger = r.status?.notifications ?? NotificationLedger()
            ledger.remove(ids: done)
            if !oncePer.isEmpty {
                let merged = (ledger.oncePer ?? [:]).merging(oncePer) { _, new in new }
                ledger.oncePer = merged.count <= NotificationLedger.maxOncePer ? merged : oncePer.count <= NotificationLedger.maxOncePer ? oncePer : nil
            }
            let value: JSONValue = ledger.isEmpty ? .null : try JSONValue(encoding: ledger)
            let patch: JSONValue = ["metadata": ["resourceVersion": .string(r.metadata.resourceVersion ?? "")],
                                    "status": ["notifications": value]]
            let request = WriteRequest(.mergePatch(patch), Rollout.resource, namespace: r.metadata.namespace, name: r.metadata.name ?? "",
                                       subresource: "status", answer: .rollout)
            do {
                try await executor.send(request, caches: caches)
                return
            } catch let e as KubeError where e.isConflict && attempt < 5 {
                let fresh: Rollout = try await client.get(Rollout.resource, r.metadata.name ?? "", namespace: r.metadata.namespace)
                caches.rollout(fresh)
                current = fresh
            } catch let e as KubeError where e.isNotFound {
                return
            }
        }
    }
}
