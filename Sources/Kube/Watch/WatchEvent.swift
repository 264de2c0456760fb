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

    public var object: T? {
        switch self {
        case .added(let o), .modified(let o), .deleted(let o): return o
        case .bookmark: return nil
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
        switch type {
        case "ADDED": decoded = .event(.added(try c.decode(T.self, forKey: .object)))
        case "MODIFIED": decoded = .event(.modified(try c.decode(T.self, forKey: .object)))
        case "DELETED": decoded = .event(.deleted(try c.decode(T.self, forKey: .object)))
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
            // An object that does not fit T would fail again on every resume; skip
            // it (loudly) and move past its resourceVersion instead of stalling.
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
