import KubeAPI

/// A core/v1 Event, as much of it as a report reads. Every field is read on
/// its own: one that is missing or unreadable (a garbage time, a number where
/// text belongs) is absent, never a failed decode.
public struct ReportEvent: Decodable, Sendable, Hashable {
    public struct InvolvedObject: Decodable, Sendable, Hashable {
        public var kind: String?
        public var name: String?
        public var namespace: String?
        public var uid: String?

        public init(kind: String? = nil, name: String? = nil, namespace: String? = nil, uid: String? = nil) {
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.uid = uid
        }

        enum CodingKeys: String, CodingKey { case kind, name, namespace, uid }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try? c.decodeIfPresent(String.self, forKey: .kind)
            name = try? c.decodeIfPresent(String.self, forKey: .name)
            namespace = try? c.decodeIfPresent(String.self, forKey: .namespace)
            uid = try? c.decodeIfPresent(String.self, forKey: .uid)
        }
    }

    public var name: String?
    public var reason: String?
    public var message: String?
    /// "Normal" or "Warning".
    public var type: String?
    public var eventTime: MicroTime?
    public var firstTimestamp: KubeTime?
    public var lastTimestamp: KubeTime?
    public var creationTimestamp: KubeTime?
    public var involvedObject: InvolvedObject?

    public init(reason: String?, message: String?, type: String? = "Normal", eventTime: MicroTime? = nil,
                firstTimestamp: KubeTime? = nil, lastTimestamp: KubeTime? = nil, involvedObject: InvolvedObject? = nil) {
        self.reason = reason
        self.message = message
        self.type = type
        self.eventTime = eventTime
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.involvedObject = involvedObject
    }

    enum CodingKeys: String, CodingKey { case metadata, reason, message, type, eventTime, firstTimestamp, lastTimestamp, involvedObject }
    enum MetaKeys: String, CodingKey { case name, creationTimestamp }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let meta = try? c.nestedContainer(keyedBy: MetaKeys.self, forKey: .metadata) {
            name = try? meta.decodeIfPresent(String.self, forKey: .name)
            creationTimestamp = try? meta.decodeIfPresent(KubeTime.self, forKey: .creationTimestamp)
        }
        reason = try? c.decodeIfPresent(String.self, forKey: .reason)
        message = try? c.decodeIfPresent(String.self, forKey: .message)
        type = try? c.decodeIfPresent(String.self, forKey: .type)
        eventTime = try? c.decodeIfPresent(MicroTime.self, forKey: .eventTime)
        firstTimestamp = try? c.decodeIfPresent(KubeTime.self, forKey: .firstTimestamp)
        lastTimestamp = try? c.decodeIfPresent(KubeTime.self, forKey: .lastTimestamp)
        involvedObject = try? c.decodeIfPresent(InvolvedObject.self, forKey: .involvedObject)
    }

    /// When it happened, in microseconds since the epoch: eventTime (which
    /// keeps the order of events of one second), else the last or first
    /// timestamp, else when the object was made; nil when none is readable.
    public var micros: Int64? {
        if let t = ReportTime.sane(micros: eventTime?.microsecondsSinceEpoch) { return t }
        guard let s = ReportTime.sane(lastTimestamp) ?? ReportTime.sane(firstTimestamp) ?? ReportTime.sane(creationTimestamp) else { return nil }
        return s.secondsSinceEpoch * 1_000_000
    }

    public var isWarning: Bool { type == "Warning" }

    /// Whether it is about this Rollout (by uid when both have one, else by kind and name).
    public func concerns(_ kind: String, name: String, uid: String?) -> Bool {
        guard let o = involvedObject else { return false }
        if let uid, let theirs = o.uid, !uid.isEmpty, !theirs.isEmpty { return uid == theirs }
        return o.kind == kind && o.name == name
    }
}
