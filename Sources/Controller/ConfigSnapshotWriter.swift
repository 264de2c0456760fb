import AviaryAPI
import Foundation
import Kube
import Rollouts

/// The source changed between the plan and the copy: the next reconcile plans
/// again from the new content (a new snapshot, a new template hash).
public struct ConfigSourceChanged: Error, CustomStringConvertible {
    public var source: ConfigObjectRef
    public var description: String { "\(source) changed since it was read; planning again" }
}

/// A snapshot's name is taken by something that is not this Rollout's copy of
/// the same content: never mounted, said with both names.
public struct ConfigSnapshotClash: Error, CustomStringConvertible {
    public var snapshot: ConfigObjectRef
    public var source: ConfigObjectRef
    public var description: String {
        "\(snapshot) exists and is not this Rollout's snapshot of \(source.name) with the same content; delete or rename it"
    }
}

extension Executor {
    /// Copies the source into an immutable snapshot: read, check that its
    /// digest is the one planned, create. Values travel from one API answer to
    /// the next request and nowhere else (no log, event or status names them).
    func createSnapshot(_ spec: ConfigSnapshotSpec, namespace ns: String?, caches: Caches) async throws {
        try fence.check()
        let kind = spec.source.kind
        let source: JSONValue
        do {
            source = try await client.get(kind.resource, spec.source.name, namespace: ns)
        } catch let error as KubeError where error.isNotFound {
            throw ConfigSourceChanged(source: spec.source)
        }
        guard ConfigDigest.of(kind: kind, object: source) == spec.digest else { throw ConfigSourceChanged(source: spec.source) }
        let object = Self.snapshot(of: source, spec, namespace: ns)
        do {
            try fence.check()
            let body = try JSONEncoder().encode(object)
            let response = try await client.send("POST", kind.resource.path(namespace: ns), body: body, contentType: "application/json")
            caches.config(kind, response.body)
        } catch let error as KubeError where error.isAlreadyExists {
            // Made already (a repeated plan), or a clash: only our own copy of this content will do.
            let existing: JSONValue = try await client.get(kind.resource, spec.name, namespace: ns)
            let meta = existing["metadata"]
            guard meta?["labels"]?[ConfigTracking.snapshotLabel]?.stringValue == "true",
                  meta?["annotations"]?[ConfigTracking.rolloutAnnotation]?.stringValue == spec.rollout,
                  ConfigDigest.of(kind: kind, object: existing) == spec.digest else {
                throw ConfigSnapshotClash(snapshot: spec.ref, source: spec.source)
            }
        }
    }

    /// The snapshot object: the source's content, immutable, labelled and owned as planned.
    static func snapshot(of source: JSONValue, _ spec: ConfigSnapshotSpec, namespace ns: String?) -> JSONValue {
        var metadata: [String: JSONValue] = [
            "name": .string(spec.name),
            "labels": [ConfigTracking.snapshotLabel: "true"],
            "annotations": [
                ConfigTracking.sourceAnnotation: .string(spec.source.name),
                ConfigTracking.rolloutAnnotation: .string(spec.rollout),
                ConfigTracking.digestAnnotation: .string(spec.digest),
            ],
            "ownerReferences": (try? JSONValue(encoding: spec.owners)) ?? [],
        ]
        if let ns { metadata["namespace"] = .string(ns) }
        var object: [String: JSONValue] = [
            "apiVersion": "v1", "kind": .string(spec.source.kind.rawValue), "metadata": .object(metadata), "immutable": true,
        ]
        switch spec.source.kind {
        case .configMap:
            for field in ["data", "binaryData"] { if let v = source[field] { object[field] = v } }
        case .secret:
            for field in ["type", "data"] { if let v = source[field] { object[field] = v } }
        }
        return .object(object)
    }
}
