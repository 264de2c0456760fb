import Foundation

/// Raw JSON, kept as-is. Pod templates and any field Aviary does not model travel
/// in this form so that nothing another client set is lost when we write back.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            // Integers stay integers on the wire (replicas: 3, not 3.0).
            if n.rounded() == n, abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// Lays `overlay` over `self`: objects merge key by key, equal-length arrays
    /// element by element, anything else is replaced. Used to write a typed
    /// object back without dropping the fields its type does not declare.
    public func overlaid(with overlay: JSONValue) -> JSONValue {
        switch (self, overlay) {
        case (.object(var base), .object(let top)):
            for (k, v) in top { base[k] = base[k].map { $0.overlaid(with: v) } ?? v }
            return .object(base)
        case (.array(let base), .array(let top)) where base.count == top.count:
            return .array(zip(base, top).map { $0.overlaid(with: $1) })
        default:
            return overlay
        }
    }
}

extension JSONValue {
    /// Converts any Encodable value into raw JSON.
    public init<T: Encodable>(encoding value: T) throws {
        let data = try JSONEncoder().encode(value)
        self = try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Decodes raw JSON into a typed value.
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: JSONEncoder().encode(self))
    }
}

/// A typed object together with the exact JSON it came from. Reading uses
/// `value`; `encode` lays the (possibly edited) typed value over the original
/// JSON, so a replace keeps fields the type does not model.
public struct Preserved<T: Codable & Sendable>: Codable, Sendable {
    public var value: T
    public let original: JSONValue

    public init(value: T, original: JSONValue) {
        self.value = value
        self.original = original
    }

    public init(from decoder: Decoder) throws {
        self.value = try T(from: decoder)
        self.original = try JSONValue(from: decoder)
    }

    public func encode(to encoder: Encoder) throws {
        try original.overlaid(with: JSONValue(encoding: value)).encode(to: encoder)
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral, ExpressibleByArrayLiteral, ExpressibleByStringLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByNilLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// The RFC 7386 merge patch that turns `old` into `new`: changed keys with
    /// their new values (objects recursively), removed keys as null. Nil when
    /// nothing changed.
    public static func mergePatch(from old: JSONValue, to new: JSONValue) -> JSONValue? {
        guard old != new else { return nil }
        guard case .object(let o) = old, case .object(let n) = new else { return new }
        var patch: [String: JSONValue] = [:]
        for (k, v) in n {
            if let before = o[k] {
                if let sub = mergePatch(from: before, to: v) { patch[k] = sub }
            } else {
                patch[k] = v
            }
        }
        for k in o.keys where n[k] == nil { patch[k] = .null }
        return patch.isEmpty ? nil : .object(patch)
    }
}

extension JSONValue {
    /// This document with the value at `path` replaced (objects created on the way), not merged.
    public func setting(_ path: [String], to value: JSONValue) -> JSONValue {
        guard let key = path.first else { return value }
        var object: [String: JSONValue] = [:]
        if case .object(let o) = self { object = o }
        object[key] = (object[key] ?? .object([:])).setting(Array(path.dropFirst()), to: value)
        return .object(object)
    }
}

extension JSONValue {
    /// A JSON number as an Int, when it is a whole one.
    public var intValue: Int? {
        guard case .number(let d) = self, d.isFinite, d == d.rounded(), let i = Int(exactly: d) else { return nil }
        return i
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The list item at `index`, if this is a list that long (never a trap).
    public func item(_ index: Int) -> JSONValue? {
        guard case .array(let a) = self, a.indices.contains(index) else { return nil }
        return a[index]
    }
}
