import AviaryAPI
import KubeAPI

/// What a reconcile sees of configuration, when the controller tracks it
/// (`--config-tracking`): the objects the Rollout's template names, and the
/// Rollout's own snapshots.
public struct ConfigView: Sendable {
    /// The ConfigMaps and Secrets the template names; one missing is absent.
    public var objects: [ConfigObjectRef: ConfigSource]
    /// Snapshots labelled as this Rollout's.
    public var snapshots: [ConfigSource]

    public init(objects: [ConfigObjectRef: ConfigSource] = [:], snapshots: [ConfigSource] = []) {
        self.objects = objects
        self.snapshots = snapshots
    }
}

/// A snapshot the template needs: made from `source` at `digest`, named `name`.
public struct ConfigSnapshotSpec: Sendable, Hashable {
    public var source: ConfigObjectRef
    public var name: String
    public var digest: String
    /// Who owns it when made: the Rollout, until its ReplicaSet exists and takes over.
    public var owners: [OwnerReference]
    public var rollout: String

    public var ref: ConfigObjectRef { ConfigObjectRef(source.kind, name) }

    public init(source: ConfigObjectRef, name: String, digest: String, owners: [OwnerReference], rollout: String) {
        self.source = source
        self.name = name
        self.digest = digest
        self.owners = owners
        self.rollout = rollout
    }
}

/// Turns the Rollout's pod template into the template its ReplicaSet gets:
/// each tracked ConfigMap and Secret replaced by its snapshot. Snapshot names
/// carry a hash of the content, so the pod-template hash changes exactly when
/// an image or a tracked object does: an edited ConfigMap starts a canary.
enum ConfigResolver {
    struct Resolution {
        /// The template to hash and to give the ReplicaSet.
        var template: JSONValue?
        /// Snapshots of the template's objects, to exist before its ReplicaSet does.
        var needed: [ConfigSnapshotSpec] = []
        /// Every snapshot the template names (needed ones and ones an undo pinned).
        var used: [ConfigObjectRef] = []
        var problems: [String] = []
    }

    static func resolve(_ rollout: Rollout, config: ConfigView?) -> Resolution {
        let template = rollout.spec.template
        guard ConfigTracking.isRequested(by: rollout.metadata), let template else { return Resolution(template: template) }
        guard let config else {
            return Resolution(template: template, problems: [
                "metadata.annotations[\(ConfigTracking.annotation)]: this controller does not track configuration; "
                    + "start it with --config-tracking (kubectl apply -k deploy/config-tracking does so), or remove the annotation",
            ])
        }
        let rolloutName = rollout.metadata.name ?? ""
        var problems: [String] = [], used: [ConfigObjectRef] = []
        var needed: [String: ConfigSnapshotSpec] = [:]
        // Not a controller reference: a snapshot is no ReplicaSet, and the ReplicaSets take over.
        var owner = OwnerReference.controller(of: rollout)
        owner.controller = nil
        owner.blockOwnerDeletion = nil
        let ours = Dictionary(config.snapshots.map { ($0.ref, $0) }, uniquingKeysWith: { a, _ in a })
        let rewritten = ConfigReferences.rewrite(template) { reference in
            let kind = reference.ref.kind.rawValue
            // The Rollout's own snapshots are found among its snapshots too (an undone template names them).
            guard let object = config.objects[reference.ref] ?? ours[reference.ref] else {
                if !reference.optional {
                    problems.append("\(reference.path): \(kind) \"\(reference.ref.name)\" not found; configuration tracking copies "
                                        + "every ConfigMap and Secret the template names: create it, or mark the reference optional: true")
                }
                return nil
            }
            if object.isSnapshot {
                // An undo copies an old ReplicaSet's template back, snapshots and all: that revision's configuration, kept as it is.
                if object.snapshotRollout == rolloutName {
                    used.append(reference.ref)
                } else {
                    problems.append("\(reference.path): \(kind) \"\(reference.ref.name)\" is a snapshot of Rollout "
                                        + "\"\(object.snapshotRollout ?? "")\"; name its source \"\(object.snapshotOf ?? "")\" instead")
                }
                return nil
            }
            if object.optedOut { return nil }
            let name = ConfigTracking.snapshotName(source: reference.ref.name, kind: reference.ref.kind, rollout: rolloutName, digest: object.digest)
            guard name.utf8.count <= 253 else {
                problems.append("\(reference.path): \(kind) \"\(reference.ref.name)\" has too long a name for a snapshot "
                                    + "(\(name.utf8.count) characters with the hash; at most 253): shorten it, or opt it out with "
                                    + "\(ConfigTracking.annotation): \"false\"")
                return nil
            }
            let snapshot = ConfigObjectRef(reference.ref.kind, name)
            if let existing = ours[snapshot], existing.snapshotDigest != object.digest {
                problems.append("\(reference.path): snapshot \(snapshot) already holds other content (a hash collision); "
                                    + "delete it and its ReplicaSets' snapshots will be made again")
                return nil
            }
            used.append(snapshot)
            if ours[snapshot] == nil {
                needed[name] = ConfigSnapshotSpec(source: reference.ref, name: name, digest: object.digest,
                                                  owners: [owner],
                                                  rollout: rolloutName)
            }
            return name
        }
        return Resolution(template: rewritten, needed: needed.values.sorted { $0.ref < $1.ref }, used: Array(Set(used)).sorted(),
                          problems: problems)
    }
}
