import Foundation

/// An object the server holds that does not fit the type we read it as (a
/// string where a number belongs, a value out of range, …). Lists and watches
/// decode one object at a time, so such an object never fails a whole list:
/// it is kept as this record (who it is, and which field is wrong) and the
/// controller can say so on the object itself.
public struct Undecodable: Sendable, Hashable {
    public var metadata: ObjectMeta
    /// The field and the problem, e.g. `spec.replicas: expected an integer, found a string`.
    public var error: String
    /// `status.message` as the server has it, so a report is written once, not on every pass.
    public var statusMessage: String?

    public init(metadata: ObjectMeta, error: String, statusMessage: String? = nil) {
        self.metadata = metadata
        self.error = error
        self.statusMessage = statusMessage
    }
}

/// Decodes as `T` when it can, else as `Undecodable`. Only an element whose
/// metadata cannot be read at all (nothing to name it by) is `.garbage`.
public enum Lenient<T: Decodable & Sendable>: Decodable, Sendable {
    case object(T)
    case undecodable(Undecodable)
    case garbage(String)

    private struct Skeleton: Decodable {
        struct Status: Decodable { var message: String? }
        var metadata: ObjectMeta
        var status: Status?

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Keys.self)
            metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
            status = try? c.decodeIfPresent(Status.self, forKey: .status)
        }
        enum Keys: String, CodingKey { case metadata, status }
    }

    public init(from decoder: Decoder) throws {
        do {
            self = .object(try T(from: decoder))
        } catch {
            let reason = DecodingProblem.describe(error, below: decoder.codingPath)
            if let skeleton = try? Skeleton(from: decoder) {
                self = .undecodable(Undecodable(metadata: skeleton.metadata, error: reason, statusMessage: skeleton.status?.message))
            } else {
                self = .garbage(reason)
            }
        }
    }
}

/// Turns Swift's decoding errors into the words a person fixing a manifest
/// needs: the field path as kubectl writes it, and what was wrong there.
public enum DecodingProblem {
    public static func describe(_ error: Error, below prefix: [CodingKey] = []) -> String {
        guard let error = error as? DecodingError else {
            // The JSON scanner's own errors (a number beyond a Double, say) carry no field path.
            let text = "\(error)"
            if text.hasPrefix("numberIsNotRepresentableInSwift"), let open = text.firstIndex(of: "\""), let close = text.lastIndex(of: "\""), open < close {
                return "a number too large to represent: \(text[text.index(after: open)..<close])"
            }
            return text
        }
        func path(_ keys: [CodingKey]) -> String {
            var out = ""
            for key in keys.dropFirst(min(prefix.count, keys.count)) {
                if let i = key.intValue { out += "[\(i)]" } else { out += out.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
            return out.isEmpty ? "(the object)" : out
        }
        switch error {
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(describe(type)), found \(found(context))"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(describe(type)), found null"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): required"
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is Int32.Type: return "an integer"
        case is Double.Type: return "a number"
        case is String.Type: return "a string"
        case is Bool.Type: return "true or false"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") || name.hasPrefix("[") { return "a list" }
            if name.hasPrefix("Dictionary") || name.contains("KeyedDecodingContainer") { return "an object" }
            return name
        }
    }

    /// Swift says what it expected; what it found is in its debug text
    /// ("Expected to decode Int but found a string instead.").
    static func found(_ context: DecodingError.Context) -> String {
        let d = context.debugDescription
        if let at = d.range(of: "found ") {
            var rest = d[at.upperBound...]
            if let end = rest.range(of: " instead") { rest = rest[..<end.lowerBound] }
            let words = rest.trimmingCharacters(in: CharacterSet(charactersIn: ". "))
            switch words {
            case "a dictionary": return "an object"
            case "an array": return "a list"
            case "a null value", "null": return "null"
            default: return words.isEmpty ? d : words
            }
        }
        return d.isEmpty ? "a value of another kind" : d
    }
}
