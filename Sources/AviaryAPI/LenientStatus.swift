import KubeAPI

/// A status is input too: anyone who may write `rollouts/status` (or
/// `analysisruns/status`) can put anything there, and older objects predate
/// our schema. So a status is read field by field: a field that does not
/// decode (an unknown phase, a string where a number belongs, an entry of a
/// list that does not fit) reads as absent, and its key is remembered so the
/// next status write replaces it instead of leaving it there.
struct LenientReader<Key: CodingKey> {
    let container: KeyedDecodingContainer<Key>
    private(set) var repaired: [String] = []

    init(_ decoder: Decoder, _ keys: Key.Type) throws {
        container = try decoder.container(keyedBy: Key.self)
    }

    /// The field, or nil (remembered as repaired) when it does not decode.
    mutating func callAsFunction<V: Decodable>(_ key: Key, as type: V.Type = V.self) -> V? {
        do {
            let value = try container.decodeIfPresent(V.self, forKey: key)
            if let r = value as? any StatusRepairs, !r.repairs.value.isEmpty { repaired.append(key.stringValue) }
            return value
        } catch {
            repaired.append(key.stringValue)
            return nil
        }
    }

    /// A count: an integer from 0 to Int32.max (what the CRD schema allows);
    /// anything else reads as absent, so arithmetic on it can never overflow.
    mutating func count(_ key: Key) -> Int? {
        guard let value: Int = self(key) else { return nil }
        guard (0...Int(Int32.max)).contains(value) else {
            repaired.append(key.stringValue)
            return nil
        }
        return value
    }

    /// A list whose entries that do not decode are dropped (and the list remembered as repaired).
    mutating func list<V: Decodable>(_ key: Key, of type: V.Type = V.self) -> [V]? {
        guard let entries = self(key, as: [Tolerant<V>].self) else { return nil }
        let kept = entries.compactMap(\.value)
        if kept.count != entries.count || kept.contains(where: { ($0 as? any StatusRepairs)?.repairs.value.isEmpty == false }) {
            if !repaired.contains(key.stringValue) { repaired.append(key.stringValue) }
        }
        return kept
    }
}

/// One entry of a list, or nil when it does not decode.
struct Tolerant<V: Decodable>: Decodable {
    var value: V?
    init(from decoder: Decoder) throws { value = try? V(from: decoder) }
}

/// A status that knows which of its fields were unreadable.
protocol StatusRepairs {
    var repairs: Unrecorded<[String]> { get }
}

/// A value carried along but left out of equality and hashing: which fields
/// were repaired is bookkeeping, not part of what the status says.
public struct Unrecorded<V: Sendable>: Sendable, Hashable {
    public var value: V
    public init(_ value: V) { self.value = value }
    public static func == (a: Self, b: Self) -> Bool { true }
    public func hash(into hasher: inout Hasher) {}
}

extension JSONValue {
    /// The base a status merge patch is computed from: the status as read,
    /// with every repaired field marked as different from anything, so the
    /// patch sets it to the new value or removes it.
    public static func patchBase<S: Encodable>(_ status: S, repaired: [String]) throws -> JSONValue {
        var base = try JSONValue(encoding: status)
        guard !repaired.isEmpty, case .object(var fields) = base else { return base }
        for key in repaired { fields[key] = .string("\u{0}unreadable") }
        base = .object(fields)
        return base
    }
}
