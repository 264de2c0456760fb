import Foundation
import Kube
import Logging
import Synchronization

/// One JSON object per line on stderr: time, level, logger, message and the
/// metadata (namespace, rollout, …) as fields, for log pipelines to index.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    private static let output = Mutex(FileHandle.standardError)

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        write(level: event.level, message: event.message, metadata: event.metadata)
    }

    func write(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?) {
        var fields: [String: JSONValue] = [
            "time": .string(MicroTime.now().description),
            "level": .string(level.rawValue),
            "logger": .string(label),
            "message": .string(message.description),
        ]
        for (k, v) in metadata.merging(explicit ?? [:], uniquingKeysWith: { _, new in new }) where fields[k] == nil {
            fields[k] = .string(v.description)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard var data = try? encoder.encode(JSONValue.object(fields)) else { return }
        data.append(0x0A)
        Self.output.withLock { $0.write(data) }
    }
}
