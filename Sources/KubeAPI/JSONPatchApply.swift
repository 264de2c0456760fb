import Foundation

/// RFC 6902 applied to a `JSONValue`: what the API server does with a JSON
/// patch, so a planner can know the object it will get back, and tests can
/// play the server. add, replace, remove and test; paths are RFC 6901 pointers.
extension JSONValue {
    public struct PatchFailure: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public func applying(_ operations: [JSONPatchOperation]) throws -> JSONValue {
        var doc = self
        for op in operations {
            let path = try Self.pointer(op.path)
            switch op.op {
            case "test":
                guard doc.value(at: path) == op.value else { throw PatchFailure(description: "test failed at \(op.path)") }
            case "remove":
                doc = try doc.changing(path, to: nil, insert: false, at: op.path)
            case "add":
                doc = try doc.changing(path, to: op.value ?? .null, insert: true, at: op.path)
            case "replace":
                guard doc.value(at: path) != nil else { throw PatchFailure(description: "nothing to replace at \(op.path)") }
                doc = try doc.changing(path, to: op.value ?? .null, insert: false, at: op.path)
            default:
                throw PatchFailure(description: "unsupported operation \(op.op)")
            }
        }
        return doc
    }

    /// "/a/b~1c/0" → ["a", "b/c", "0"].
    static func pointer(_ text: String) throws -> [String] {
        if text.isEmpty { return [] }
        guard text.hasPrefix("/") else { throw PatchFailure(description: "path \(text) must start with /") }
        return text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    /// The value at a path of keys and list indices; nil where it leads nowhere (never a trap).
    public func value(at path: [String]) -> JSONValue? {
        var current: JSONValue? = self
        for key in path {
            switch current {
            case .object(let o)?: current = o[key]
            case .array(let a)?:
                guard let i = Int(key), a.indices.contains(i) else { return nil }
                current = a[i]
            default: return nil
            }
        }
        return current
    }

    /// Sets (or with nil removes) the value at `path`; `insert` puts a list item before the index ("-" appends).
    func changing(_ path: [String], to value: JSONValue?, insert: Bool, at text: String) throws -> JSONValue {
        guard let key = path.first else {
            guard let value else { throw PatchFailure(description: "cannot remove the whole document") }
            return value
        }
        let rest = Array(path.dropFirst())
        switch self {
        case .object(var o):
            if rest.isEmpty {
                if value == nil, o[key] == nil { throw PatchFailure(description: "nothing to remove at \(text)") }
                o[key] = value
            } else {
                guard let child = o[key] else { throw PatchFailure(description: "no \(key) on the way to \(text)") }
                o[key] = try child.changing(rest, to: value, insert: insert, at: text)
            }
            return .object(o)
        case .array(var a):
            if rest.isEmpty, insert, key == "-", let value {
                a.append(value)
                return .array(a)
            }
            guard let i = Int(key), i >= 0, i <= a.count else { throw PatchFailure(description: "index \(key) is out of range at \(text)") }
            if rest.isEmpty {
                if insert, let value {
                    a.insert(value, at: i)
                } else {
                    guard i < a.count else { throw PatchFailure(description: "index \(key) is out of range at \(text)") }
                    if let value { a[i] = value } else { a.remove(at: i) }
                }
            } else {
                guard i < a.count else { throw PatchFailure(description: "index \(key) is out of range at \(text)") }
                a[i] = try a[i].changing(rest, to: value, insert: insert, at: text)
            }
            return .array(a)
        default:
            throw PatchFailure(description: "\(text) goes through a value that is neither an object nor a list")
        }
    }
}
