import AviaryAPI
import Foundation
import KubeAPI

/// What `kubectl aviary diff` says changed between two revisions of a Rollout:
/// the container images, and per tracked ConfigMap or Secret the keys added,
/// removed and changed. Built by `ConfigDiff.build` (pure) from snapshots the
/// command has read; drawn by `ConfigDiffText`, `-o json` is its encoding.
///
/// A Secret's values never get in here: its keys are compared in memory and
/// only their names kept, so neither the text nor the JSON can leak a value,
/// its length or a hash of it.
public struct ConfigDiff: Codable, Sendable, Hashable {
    public enum Change: String, Codable, Sendable, Hashable {
        case added, removed, changed
        /// "+", "-", "~".
        public var mark: String { self == .added ? "+" : self == .removed ? "-" : "~" }
    }

    /// One key of a ConfigMap or Secret. `old` and `new` are shown values
    /// (clipped); always nil for a Secret.
    public struct KeyChange: Codable, Sendable, Hashable {
        public var key: String
        public var change: Change
        public var old: String?
        public var new: String?
    }

    /// One ConfigMap or Secret of the Rollout, as the two revisions saw it.
    public struct Source: Codable, Sendable, Hashable {
        public enum State: String, Codable, Sendable, Hashable {
            /// Only the newer revision mounts it, or only the older one.
            case added, removed
            case changed, unchanged
            /// The snapshots differ, but one of them could not be read.
            case unreadable
        }
        public var kind: ConfigKind
        /// The ConfigMap or Secret the snapshots copy.
        public var source: String
        public var from: String?
        public var to: String?
        public var state: State
        public var keys: [KeyChange]
        /// Why the keys are not shown ("cannot read Secret db-42nf8: forbidden").
        public var note: String?
    }

    public struct ImageChange: Codable, Sendable, Hashable {
        public var container: String
        public var old: String?
        public var new: String?
    }

    public struct Revision: Codable, Sendable, Hashable {
        public var revision: Int
        public var replicaSet: String?
        public var snapshots: [String]
    }

    public var rollout: String
    public var namespace: String
    public var from: Revision
    public var to: Revision
    public var images: [ImageChange]
    public var sources: [Source]
    /// What the diff could not do, in words.
    public var notes: [String]

    /// What a value is cut to in the text (and the JSON).
    public static let maxValue = 60
    static let maxKeys = 500
    static let maxSources = 100
}

extension ConfigDiff {
    /// One snapshot a ReplicaSet names, as read (or not) from the cluster.
    /// `object` holds a Secret's values in memory only: this type is neither
    /// encoded nor printed.
    public struct Snapshot: Sendable {
        public var ref: ConfigObjectRef
        public var object: JSONValue?
        /// Why it could not be read ("forbidden", "not found").
        public var error: String?

        public init(ref: ConfigObjectRef, object: JSONValue? = nil, error: String? = nil) {
            self.ref = ref
            self.object = object
            self.error = error
        }

        /// The source it copies: its annotation, else its name without the hash suffix.
        public var source: String {
            if let meta = object?["metadata"]?["annotations"]?[ConfigTracking.sourceAnnotation]?.stringValue, !meta.isEmpty { return meta }
            return ConfigDiff.sourceName(ofSnapshot: ref.name)
        }
    }

    /// One side of a diff: a revision, its ReplicaSet and its snapshots.
    public struct Side: Sendable {
        public var revision: Int
        public var replicaSet: ReplicaSet
        public var snapshots: [Snapshot]

        public init(revision: Int, replicaSet: ReplicaSet, snapshots: [Snapshot]) {
            self.revision = revision
            self.replicaSet = replicaSet
            self.snapshots = snapshots
        }
    }

    /// "web-config-b5f7c9d2x4" → "web-config": snapshot names are `<source>-<hash>`.
    public static func sourceName(ofSnapshot name: String) -> String {
        guard let dash = name.lastIndex(of: "-"), dash != name.startIndex else { return name }
        return String(name[..<dash])
    }

    /// Pairs the two sides' snapshots by kind and source and compares them.
    public static func build(rollout: String, namespace: String, from: Side, to: Side) -> ConfigDiff {
        var notes: [String] = []
        let tracked = { (side: Side) in side.replicaSet.metadata.annotations?[ConfigTracking.replicaSetAnnotation] != nil }
        for side in [from, to] where !tracked(side) {
            notes.append("revision \(side.revision) has no config snapshots (config tracking was off for it; "
                         + "annotate the Rollout \(ConfigTracking.annotation)=true to track the next revisions)")
        }
        struct Key: Hashable, Comparable {
            var kind: ConfigKind
            var source: String
            static func < (a: Key, b: Key) -> Bool { (a.kind, a.source) < (b.kind, b.source) }
        }
        func index(_ side: Side) -> [Key: Snapshot] {
            Dictionary(side.snapshots.prefix(maxSources).map { (Key(kind: $0.ref.kind, source: $0.source), $0) }, uniquingKeysWith: { a, _ in a })
        }
        let old = index(from), new = index(to)
        var sources: [Source] = []
        for key in Set(old.keys).union(new.keys).sorted() {
            let a = old[key], b = new[key]
            var s = Source(kind: key.kind, source: clip(key.source, 253), from: a.map { clip($0.ref.name, 253) }, to: b.map { clip($0.ref.name, 253) },
                           state: .unchanged, keys: [], note: nil)
            // A snapshot is immutable and named after its content: the same name is the same content.
            if let a, let b, a.ref.name == b.ref.name {
                sources.append(s)
                continue
            }
            let unreadable = [a, b].compactMap { $0 }.filter { $0.object == nil }
            if !unreadable.isEmpty {
                s.state = a == nil ? .added : b == nil ? .removed : .unreadable
                s.note = unreadable.map { "cannot read \($0.ref.kind.rawValue) \(clip($0.ref.name, 253)): \(clip($0.error ?? "not read", 200))" }
                    .joined(separator: "; ") + "; showing names of snapshots only"
                sources.append(s)
                continue
            }
            s.keys = keys(kind: key.kind, old: a?.object, new: b?.object)
            s.state = a == nil ? .added : b == nil ? .removed : s.keys.isEmpty ? .unchanged : .changed
            sources.append(s)
        }
        return ConfigDiff(rollout: clip(rollout, 253), namespace: clip(namespace, 253),
                          from: revision(from), to: revision(to), images: images(from: from.replicaSet, to: to.replicaSet),
                          sources: sources, notes: notes)
    }

    static func revision(_ side: Side) -> Revision {
        Revision(revision: side.revision, replicaSet: side.replicaSet.metadata.name.map { clip($0, 253) },
                 snapshots: ConfigTracking.snapshots(of: side.replicaSet).sorted().prefix(maxSources).map { clip($0.description, 300) })
    }

    /// The keys that differ between two snapshot objects (either may be
    /// missing: everything in the other is added or removed). ConfigMaps: `data`
    /// and `binaryData`, with values clipped; Secrets: `data`, names only.
    public static func keys(kind: ConfigKind, old: JSONValue?, new: JSONValue?) -> [KeyChange] {
        let a = values(kind: kind, old), b = values(kind: kind, new)
        var out: [KeyChange] = []
        for key in Set(a.keys).union(b.keys).sorted().prefix(maxKeys) {
            let x = a[key], y = b[key]
            let change: Change
            switch (x, y) {
            case (nil, _?): change = .added
            case (_?, nil): change = .removed
            case let (x?, y?) where x.content != y.content: change = .changed
            default: continue
            }
            // Secrets: the name alone.
            out.append(KeyChange(key: clip(key, 253), change: change,
                                 old: kind == .secret ? nil : x.map(\.shown), new: kind == .secret ? nil : y.map(\.shown)))
        }
        return out
    }

    /// A key's value as compared (the decoded bytes, for base64 sections) and as shown.
    struct Value {
        var content: Data
        var shown: String
    }

    /// The keys of an object's sections. In a Secret's `data` and a ConfigMap's
    /// `binaryData` the values are base64: compared decoded (undecodable text as it is).
    static func values(kind: ConfigKind, _ object: JSONValue?) -> [String: Value] {
        guard let object else { return [:] }
        func section(_ name: String) -> [String: String] {
            guard case .object(let o)? = object[name] else { return [:] }
            return o.compactMapValues(\.stringValue)
        }
        var out: [String: Value] = [:]
        switch kind {
        case .configMap:
            for (k, v) in section("binaryData") {
                let bytes = Data(base64Encoded: v)
                out[k] = Value(content: bytes ?? Data(v.utf8), shown: bytes.map { "(binary, \($0.count) bytes)" } ?? "(binary, not base64)")
            }
            // A key is in one section only; were it in both, the text one is what is shown.
            for (k, v) in section("data") { out[k] = Value(content: Data(v.utf8), shown: quoted(v)) }
        case .secret:
            for (k, v) in section("data") { out[k] = Value(content: Data(base64Encoded: v) ?? Data(v.utf8), shown: "") }
        }
        return out
    }

    /// A value on one line, quoted and cut to `maxValue` characters: newlines
    /// and tabs written as \n and \t, other control characters as spaces.
    static func quoted(_ value: String) -> String {
        var out = ""
        var n = 0
        for ch in value {
            if n >= maxValue { return "\"" + out + "…\" (\(value.count) characters)" }
            switch ch {
            case "\n", "\r\n": out += "\\n"
            case "\t": out += "\\t"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                out.append(ch.unicodeScalars.contains { $0.properties.generalCategory == .control || $0 == "\u{2028}" || $0 == "\u{2029}" } ? " " : ch)
            }
            n += 1
        }
        return "\"" + out + "\""
    }

    /// Per container (init containers as "init:NAME"), the images that differ.
    static func images(from a: ReplicaSet, to b: ReplicaSet) -> [ImageChange] {
        func containers(_ rs: ReplicaSet) -> [(String, String)] {
            func list(_ field: String, _ prefix: String) -> [(String, String)] {
                guard case .array(let cs)? = rs.spec.template?["spec"]?[field] else { return [] }
                return cs.prefix(100).compactMap { c in c["name"]?.stringValue.map { (prefix + clip($0, 253), clip(c["image"]?.stringValue ?? "", 300)) } }
            }
            return list("initContainers", "init:") + list("containers", "")
        }
        let old = Dictionary(containers(a), uniquingKeysWith: { x, _ in x })
        let new = containers(b)
        let newNames = Set(new.map(\.0))
        var out: [ImageChange] = []
        for (name, image) in new where old[name] != image {
            out.append(ImageChange(container: name, old: old[name], new: image))
        }
        for (name, image) in containers(a) where !newNames.contains(name) {
            out.append(ImageChange(container: name, old: image, new: nil))
        }
        return out
    }

    static func clip(_ text: String, _ limit: Int) -> String { ReportText.clip(text, limit) }

    /// `-o json`: keys sorted, indented.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(self) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// `diff -o text`: one line per image and per key, a Secret's keys by name only.
public enum ConfigDiffText {
    public static func render(_ d: ConfigDiff) -> String {
        var out = "Rollout \(d.namespace)/\(d.rollout): revision \(d.from.revision)"
        out += (d.from.replicaSet.map { " (ReplicaSet \($0))" } ?? "") + " → revision \(d.to.revision)"
        out += (d.to.replicaSet.map { " (ReplicaSet \($0))" } ?? "") + "\n"
        out += "\nImages\n"
        if d.images.isEmpty { out += "  unchanged\n" }
        for i in d.images {
            switch (i.old, i.new) {
            case (nil, let new?): out += "  + \(i.container): \(new)\n"
            case (let old?, nil): out += "  - \(i.container): \(old)\n"
            default: out += "  ~ \(i.container): \(i.old ?? "") → \(i.new ?? "")\n"
            }
        }
        out += "\nConfiguration\n"
        if d.sources.isEmpty { out += "  no tracked ConfigMaps or Secrets\n" }
        for s in d.sources {
            let names = s.from == s.to ? (s.to ?? "") : "\(s.from ?? "none") → \(s.to ?? "none")"
            var head = "  \(s.kind.rawValue) \(s.source) (\(names))"
            switch s.state {
            case .unchanged: head += ": unchanged"
            case .added: head += ": added in revision \(d.to.revision)"
            case .removed: head += ": no longer used in revision \(d.to.revision)"
            case .changed: head += s.kind == .secret ? ": changed (key names only; values are never shown)" : ": changed"
            case .unreadable: head += ": changed"
            }
            out += head + "\n"
            if let note = s.note { out += "    \(note)\n" }
            for k in s.keys {
                if s.kind == .secret {
                    out += "    \(k.change.mark) \(k.key)\n"
                } else {
                    switch k.change {
                    case .added: out += "    + \(k.key): \(k.new ?? "")\n"
                    case .removed: out += "    - \(k.key): \(k.old ?? "")\n"
                    case .changed: out += "    ~ \(k.key): \(k.old ?? "") → \(k.new ?? "")\n"
                    }
                }
            }
        }
        if !d.notes.isEmpty {
            out += "\nNotes\n"
            for n in d.notes { out += "  \(n)\n" }
        }
        return out
    }
}
