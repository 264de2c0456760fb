import Foundation
import Logging

/// One change seen by a watch. ERROR events are not values: the stream throws
/// them as `KubeError.api` (410 Gone among them), so callers relist in one place.
public enum WatchEvent<T: Decodable & Sendable>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// The server's progress marker: nothing changed up to this version.
    case bookmark(resourceVersion: String)
    /// An object that was added or modified (or, with `deleted`, removed) but
    /// does not decode as `T`: who it is and which field is wrong.
    case undecodable(Undecodable, deleted: Bool)

    public var object: T? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): return o
        case .bookmark, .undecodable: return nil
        }
    }
}

/// The wire form: `{"type": "...", "object": {...}}`, decoded in one pass.
struct WireWatchEvent<T: Decodable & Sendable>: Decodable {
    enum Decoded { case event(WatchEvent<T>), error(Status) }
    let decoded: Decoded

    private enum Keys: String, CodingKey { case type, object }
    private struct BookmarkObject: Decodable { var metadata: ObjectMeta }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let type = try c.decode(String.self, forKey: .type)
        func object(_ make: (T) -> WatchEvent<T>, deleted: Bool) throws -> Decoded {
            switch try c.decode(Lenient<T>.self, forKey: .object) {
            case .object(let o): return .event(make(o))
            case .undecodable(let u): return .event(.undecodable(u, deleted: deleted))
            case .garbage(let reason):
                throw DecodingError.dataCorruptedError(forKey: .object, in: c, debugDescription: "object without readable metadata: \(reason)")
            }
        }
        switch type {
        case "ADDED": decoded = try object(WatchEvent.added, deleted: false)
        case "MODIFIED": decoded = try object(WatchEvent.modified, deleted: false)
        case "DELETED": decoded = try object(WatchEvent.deleted, deleted: true)
        case "BOOKMARK":
            let o = try c.decode(BookmarkObject.self, forKey: .object)
            decoded = .event(.bookmark(resourceVersion: o.metadata.resourceVersion ?? ""))
        case "ERROR": decoded = .error(try c.decode(Status.self, forKey: .object))
        default:
            throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unknown watch event type \(type)")
        }
    }
}

/// Decodes watch lines; pure, so it is tested on hand-made byte streams.
public struct WatchDecoder<T: Decodable & Sendable>: Sendable {
    private var lines = LineSplitter()
    private static var logger: Logger { Logger(label: "aviary.watch") }

    private struct Skeleton: Decodable {
        struct Object: Decodable { var metadata: ObjectMeta }
        var type: String
        var object: Object
    }

    public init() {}

    public mutating func append(_ data: Data) { lines.append(data) }

    /// The next whole event, nil until more bytes arrive. ERROR events throw.
    public mutating func next() throws -> WatchEvent<T>? {
        guard let line = try lines.nextLine() else { return nil }
        let wire: WireWatchEvent<T>
        do {
            wire = try JSONDecoder().decode(WireWatchEvent<T>.self, from: line)
        } catch {
            // The line as a whole was refused (an object nested too deeply for
            // the decoder): name the object from its metadata alone and move
            // past its resourceVersion, rather than fail the watch on every resume.
            if let fields = JSONScan.members(line), let type = fields.first(where: { $0.key == "type" }),
               let object = fields.first(where: { $0.key == "object" }),
               case .undecodable(let u) = Lenient<T>.decode(line, in: object.value),
               let kind = try? JSONDecoder().decode(String.self, from: JSONScan.bytes(line, type.value)) {
                Self.logger.error("\(kind) event for \(u.metadata.namespace ?? "")/\(u.metadata.name ?? "") does not decode as \(T.self): \(u.error)")
                return .undecodable(u, deleted: kind == "DELETED")
            }
            guard let skeleton = try? JSONDecoder().decode(Skeleton.self, from: line), let rv = skeleton.object.metadata.resourceVersion else {
                throw KubeError.decoding("watch event: \(error)")
            }
            let m = skeleton.object.metadata
            Self.logger.error("skipping a \(skeleton.type) event for \(m.namespace ?? "")/\(m.name ?? "") that does not decode as \(T.self): \(error)")
            return .bookmark(resourceVersion: rv)
        }
        switch wire.decoded {
        case .event(let e): return e
        case .error(let status): throw KubeError.api(code: status.code ?? 500, status: status)
        }
    }

    public var pendingBytes: Int { lines.pendingBytes }
}
