import Foundation

/// A byte-level walk over JSON that finds where values start and end without
/// building them. Foundation's decoder refuses a whole document when any part
/// of it nests deeper than 512 levels, and the API server accepts far deeper;
/// so when a list or a watch line does not decode as a whole, this splits it,
/// and only the one deep object is left undecodable.
///
/// Iterative (no recursion), so no input can exhaust the stack.
public enum JSONScan {
    /// The members of the object at `range`: each key and its value's byte range.
    public static func members(_ data: Data, in range: Range<Int>? = nil, stoppingAt stop: String? = nil) -> [(key: String, value: Range<Int>)]? {
        data.withUnsafeBytes { raw -> [(key: String, value: Range<Int>)]? in
            let b = raw.bindMemory(to: UInt8.self)
            var i = skipSpace(b, range?.lowerBound ?? 0)
            let end = range?.upperBound ?? b.count
            guard i < end, b[i] == UInt8(ascii: "{") else { return nil }
            i += 1
            var out: [(String, Range<Int>)] = []
            while true {
                i = skipSpace(b, i)
                guard i < end else { return nil }
                if b[i] == UInt8(ascii: "}") { return out }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                guard b[i] == UInt8(ascii: "\""), let keyEnd = stringEnd(b, i, end) else { return nil }
                let keyBytes = Data(UnsafeRawBufferPointer(rebasing: raw[(i + 1)..<(keyEnd - 1)]))
                // Only a key with an escape needs the decoder.
                let key = keyBytes.contains(UInt8(ascii: "\\"))
                    ? (try? JSONDecoder().decode(String.self, from: Data("\"".utf8) + keyBytes + Data("\"".utf8))) ?? String(decoding: keyBytes, as: UTF8.self)
                    : String(decoding: keyBytes, as: UTF8.self)
                i = skipSpace(b, keyEnd)
                guard i < end, b[i] == UInt8(ascii: ":") else { return nil }
                i = skipSpace(b, i + 1)
                guard let valueEnd = valueEnd(b, i, end) else { return nil }
                out.append((key, i..<valueEnd))
                if key == stop { return out }
                i = valueEnd
            }
        }
    }

    /// The member `key` of the top-level object, decoded on its own; the scan
    /// stops at that member, so a list's metadata (which the server writes
    /// before its items) is read without walking the items.
    public static func firstMember<T: Decodable>(_ key: String, of data: Data, as type: T.Type) -> T? {
        guard let found = members(data, stoppingAt: key)?.last, found.key == key else { return nil }
        return try? JSONDecoder().decode(T.self, from: bytes(data, found.value))
    }

    /// The byte ranges of the elements of the array at `range`.
    public static func elements(_ data: Data, in range: Range<Int>) -> [Range<Int>]? {
        data.withUnsafeBytes { raw -> [Range<Int>]? in
            let b = raw.bindMemory(to: UInt8.self)
            var i = skipSpace(b, range.lowerBound)
            let end = range.upperBound
            guard i < end, b[i] == UInt8(ascii: "[") else { return nil }
            i += 1
            var out: [Range<Int>] = []
            while true {
                i = skipSpace(b, i)
                guard i < end else { return nil }
                if b[i] == UInt8(ascii: "]") { return out }
                if b[i] == UInt8(ascii: ",") { i += 1; continue }
                guard let valueEnd = valueEnd(b, i, end) else { return nil }
                out.append(i..<valueEnd)
                i = valueEnd
            }
        }
    }

    /// The member `key` of the object at `range`, decoded on its own.
    public static func member<T: Decodable>(_ key: String, of data: Data, in range: Range<Int>? = nil, as type: T.Type) -> T? {
        guard let found = members(data, in: range)?.first(where: { $0.key == key }) else { return nil }
        return try? JSONDecoder().decode(T.self, from: bytes(data, found.value))
    }

    /// The bytes at `range`, counted from the start of `data` (which may be a slice).
    public static func bytes(_ data: Data, _ range: Range<Int>) -> Data {
        let base = data.startIndex
        return data.subdata(in: (base + range.lowerBound)..<(base + range.upperBound))
    }

    /// How deeply the value in `data` nests (brackets outside strings).
    public static func depth(_ data: Data) -> Int {
        data.withUnsafeBytes { raw -> Int in
            let b = raw.bindMemory(to: UInt8.self)
            var depth = 0, deepest = 0, i = 0
            while i < b.count {
                switch b[i] {
                case UInt8(ascii: "\""):
                    i = stringEnd(b, i, b.count) ?? b.count
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                    deepest = max(deepest, depth)
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                default:
                    break
                }
                i += 1
            }
            return deepest
        }
    }

    static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        var i = start
        while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
        return i
    }

    /// Just past the string that starts (with its quote) at `start`.
    static func stringEnd(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        var i = start + 1
        while i < end {
            switch b[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    /// Just past the value that starts at `start`: brackets are counted (not
    /// recursed into), strings skipped whole.
    static func valueEnd(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int? {
        guard start < end else { return nil }
        switch b[start] {
        case UInt8(ascii: "\""):
            return stringEnd(b, start, end)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < end {
                switch b[i] {
                case UInt8(ascii: "\""):
                    guard let e = stringEnd(b, i, end) else { return nil }
                    i = e
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        default:
            // A number, true, false or null: up to the next delimiter.
            var i = start
            while i < end, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09].contains(b[i]) { i += 1 }
            return i
        }
    }
}

extension ObjectList {
    /// Decodes a list answer. Normally in one pass; when the document as a
    /// whole is refused (an item nested too deeply for the decoder), item by
    /// item, so only that item is lost, kept by name as undecodable.
    public static func decode(_ data: Data) throws -> ObjectList<T> {
        do {
            return try JSONDecoder().decode(ObjectList<T>.self, from: data)
        } catch let whole {
            guard let top = JSONScan.members(data), let itemsRange = top.first(where: { $0.key == "items" })?.value,
                  let ranges = JSONScan.elements(data, in: itemsRange) else { throw whole }
            let metadata = top.first { $0.key == "metadata" }.flatMap { try? JSONDecoder().decode(ListMeta.self, from: JSONScan.bytes(data, $0.value)) }
            var list = ObjectList(metadata: metadata ?? ListMeta(), items: [])
            for range in ranges {
                switch Lenient<T>.decode(data, in: range) {
                case .object(let o): list.items.append(o)
                case .undecodable(let u): list.undecodable.append(u)
                case .garbage(let g): list.garbage.append(g)
                }
            }
            return list
        }
    }
}

extension Lenient {
    /// Why an object could not be read at all, in words that point at the cause.
    static func wholeObjectProblem(_ bytes: Data, _ error: Error) -> String {
        let depth = JSONScan.depth(bytes)
        if depth > 500 { return "the object nests \(depth) levels deep; aviary reads at most 512" }
        return DecodingProblem.describe(error)
    }

    /// One object from its bytes; one the decoder refuses as a whole (too
    /// deep) is named from its metadata alone.
    public static func decode(_ data: Data, in range: Range<Int>) -> Lenient<T> {
        let bytes = JSONScan.bytes(data, range)
        do {
            return try JSONDecoder().decode(Lenient<T>.self, from: bytes)
        } catch {
            guard let meta = JSONScan.member("metadata", of: bytes, as: ObjectMeta.self) else { return .garbage(DecodingProblem.describe(error)) }
            return .undecodable(Undecodable(metadata: meta, error: wholeObjectProblem(bytes, error)))
        }
    }
}
