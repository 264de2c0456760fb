import AviaryAPI
import Foundation
import KubeAPI
import Plugin
import Rollouts

/// The JSON API, over a `DashboardSource`: what `/api/rollouts` and
/// `/api/rollouts/{namespace}/{name}` answer. The page codes against these
/// shapes; their parts are the `Plugin` view models `get` and `list` print.
public struct DashboardAPI: Sendable {
    public struct Reply: Sendable, Equatable {
        public var status: Int
        public var body: Data
    }

    /// `{"rollouts": [RolloutRow], "namespaces": [String], "message"?: String}`; the message says why a viewer sees none.
    public struct RolloutsBody: Codable, Sendable {
        public var rollouts: [RolloutRow]
        public var namespaces: [String]
        public var message: String? = nil
    }

    /// `{"time", "type", "reason", "message"}`, oldest first.
    public struct Event: Codable, Sendable, Hashable {
        public var time: MicroTime?
        public var type: String
        public var reason: String
        public var message: String
    }

    /// `{"summary", "events", "report"}`; report is null unless the update was aborted.
    public struct RolloutBody: Encodable, Sendable {
        public var summary: RolloutSummary
        public var events: [Event]
        public var report: RolloutReport?

        enum Keys: String, CodingKey { case summary, events, report }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Keys.self)
            try c.encode(summary, forKey: .summary)
            try c.encode(events, forKey: .events)
            // Always present: null says "no aborted update", rather than leaving the page to guess.
            try c.encode(report, forKey: .report)
        }
    }

    struct ErrorBody: Encodable { var error: String }

    static let maxEvents = 500

    let source: any DashboardSource
    let now: @Sendable () -> KubeTime

    public init(source: any DashboardSource, now: @escaping @Sendable () -> KubeTime = { KubeTime.now() }) {
        self.source = source
        self.now = now
    }

    /// `/api/rollouts` with the query's filters.
    public func rollouts(namespace: String?, label: String?, phase: String?) -> Reply {
        guard source.hasSynced else {
            return Self.error(503, "still reading the Rollouts from the cluster; if this lasts, this kubeconfig may not be allowed to list them "
                              + "(`kubectl auth can-i list rollouts.aviary.dev`)")
        }
        let selector: LabelSelector?
        if let label, !label.trimmingCharacters(in: .whitespaces).isEmpty {
            do { selector = try SelectorText.parse(label) } catch {
                return Self.error(400, "label selector \(error.description)")
            }
        } else {
            selector = nil
        }
        let all = source.rollouts()
        let namespaces = Array(Set(all.compactMap(\.metadata.namespace))).sorted()
        let wantedPhase = phase.flatMap { $0.isEmpty ? nil : $0.lowercased() }
        let wantedNamespace = namespace.flatMap { $0.isEmpty ? nil : $0 }
        let rows = all
            .filter { r in wantedNamespace.map { r.metadata.namespace == $0 } ?? true }
            .filter { r in selector.map { $0.matches(r.metadata.labels ?? [:]) } ?? true }
            .map { RolloutRow($0, replicaSets: source.family(of: $0).replicaSets) }
            .filter { row in wantedPhase.map { row.phase.lowercased() == $0 } ?? true }
            .sorted(by: RolloutRow.attentionFirst)
        return Self.json(RolloutsBody(rollouts: rows, namespaces: namespaces, message: all.isEmpty ? source.emptyMessage : nil))
    }

    /// `/api/rollouts/{namespace}/{name}`.
    public func rollout(namespace: String, name: String) -> Reply {
        guard let r = source.rollout(namespace: namespace, name: name) else {
            return Self.error(404, "no rollout \(name) in namespace \(namespace) that this kubeconfig can read; the list at / shows the ones there are")
        }
        let family = source.family(of: r)
        let summary = RolloutSummary(.init(rollout: r, replicaSets: family.replicaSets, pods: family.pods, runs: family.analysisRuns))
        let raw = source.events(of: r)
        let events = raw.sorted { ($0.micros ?? 0) < ($1.micros ?? 0) }.suffix(Self.maxEvents).map { e in
            Event(time: e.micros.map { MicroTime(microsecondsSinceEpoch: $0) }, type: Self.clip(e.type ?? "Normal", 64),
                  reason: Self.clip(e.reason ?? "", 253), message: Self.clip(e.message ?? "", 4_096))
        }
        var report: RolloutReport?
        // The post-rollback report, for an update that was aborted.
        if r.status?.abort == true {
            report = try? RolloutReport.build(.init(rollout: r, replicaSets: family.replicaSets, analysisRuns: family.analysisRuns,
                                                    events: raw, now: now()))
            if report?.outcome != .aborted { report = nil }
        }
        return Self.json(RolloutBody(summary: summary, events: Array(events), report: report))
    }

    public static func error(_ status: Int, _ message: String) -> Reply {
        json(ErrorBody(error: message), status: status)
    }

    static func json(_ value: some Encodable, status: Int = 200) -> Reply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return Reply(status: status, body: try encoder.encode(value))
        } catch {
            return Reply(status: 500, body: Data(#"{"error":"the answer could not be encoded as JSON"}"#.utf8))
        }
    }

    static func clip(_ s: String, _ limit: Int) -> String {
        s.utf8.count <= limit ? s : String(decoding: Array(s.utf8.prefix(limit)), as: UTF8.self).trimmingCharacters(in: CharacterSet(charactersIn: "\u{FFFD}")) + "…"
    }
}
