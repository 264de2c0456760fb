import AviaryAPI
import Foundation
import KubeAPI
import Testing
@testable import Plugin

/// Configuration tracking in the plugin: `diff` (ConfigMap keys with clipped
/// values, Secrets by key name only, binaryData), the snapshot lines of
/// `get rollout`, and the configuration part of `report`.
@Suite struct ConfigDiffTests {
    static let secretOld = "hunter2-old-password"
    static let secretNew = "s3cr3t-new-password!"
    static let longValue = String(repeating: "x", count: 100)

    static func b64(_ s: String) -> String { Data(s.utf8).base64EncodedString() }

    static func configMap(_ name: String, of source: String, data: [String: String], binary: [String: String] = [:]) -> JSONValue {
        var o: [String: JSONValue] = [
            "metadata": ["name": .string(name), "annotations": [.init(stringLiteral: ConfigTracking.sourceAnnotation): .string(source)]],
            "data": .object(data.mapValues(JSONValue.string)),
        ]
        if !binary.isEmpty { o["binaryData"] = .object(binary.mapValues(JSONValue.string)) }
        return .object(o)
    }

    static func secret(_ name: String, of source: String, data: [String: String]) -> JSONValue {
        ["metadata": ["name": .string(name), "annotations": [.init(stringLiteral: ConfigTracking.sourceAnnotation): .string(source)]],
         "type": "Opaque", "data": .object(data.mapValues { .string(b64($0)) })]
    }

    static func replicaSet(_ hash: String, revision: Int, image: String, snapshots: String?) -> ReplicaSet {
        var rs = RendererTests.replicaSet(hash, image: image, revision: revision, desired: 1, available: 1)
        if let snapshots { rs.metadata.annotations?[ConfigTracking.replicaSetAnnotation] = snapshots }
        return rs
    }

    static var old: ConfigDiff.Side {
        ConfigDiff.Side(revision: 2, replicaSet: replicaSet("aaa", revision: 2, image: "web:2.0", snapshots: "ConfigMap/web-config-aaa1,ConfigMap/flags-f1,Secret/db-s1"),
                        snapshots: [
                            .init(ref: ConfigObjectRef(.configMap, "web-config-aaa1"),
                                  object: configMap("web-config-aaa1", of: "web-config",
                                                    data: ["LOG_LEVEL": "info", "OLD_FLAG": "1", "BANNER": longValue, "SAME": "x"],
                                                    binary: ["logo.png": b64("PNG1")])),
                            .init(ref: ConfigObjectRef(.configMap, "flags-f1"), object: configMap("flags-f1", of: "flags", data: ["a": "1"])),
                            .init(ref: ConfigObjectRef(.secret, "db-s1"),
                                  object: secret("db-s1", of: "db", data: ["password": secretOld, "user": "app", "legacy": secretOld])),
                        ])
    }

    static var new: ConfigDiff.Side {
        ConfigDiff.Side(revision: 3, replicaSet: replicaSet("bbb", revision: 3, image: "web:3.0", snapshots: "ConfigMap/web-config-bbb2,ConfigMap/flags-f1,Secret/db-s2"),
                        snapshots: [
                            .init(ref: ConfigObjectRef(.configMap, "web-config-bbb2"),
                                  object: configMap("web-config-bbb2", of: "web-config",
                                                    data: ["LOG_LEVEL": "debug", "NEW_FLAG": "on\nyes", "BANNER": longValue + "y", "SAME": "x"],
                                                    binary: ["logo.png": b64("PNG22")])),
                            .init(ref: ConfigObjectRef(.configMap, "flags-f1"), object: nil, error: nil),
                            .init(ref: ConfigObjectRef(.secret, "db-s2"),
                                  object: secret("db-s2", of: "db", data: ["password": secretNew, "user": "app", "token": secretNew])),
                        ])
    }

    static let diffText = """
        Rollout shop/web: revision 2 (ReplicaSet web-aaa) → revision 3 (ReplicaSet web-bbb)

        Images
          ~ web: web:2.0 → web:3.0

        Configuration
          ConfigMap flags (flags-f1): unchanged
          ConfigMap web-config (web-config-aaa1 → web-config-bbb2): changed
            ~ BANNER: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" (100 characters) → "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…" (101 characters)
            ~ LOG_LEVEL: "info" → "debug"
            + NEW_FLAG: "on\\nyes"
            - OLD_FLAG: "1"
            ~ logo.png: (binary, 4 bytes) → (binary, 5 bytes)
          Secret db (db-s1 → db-s2): changed (key names only; values are never shown)
            - legacy
            ~ password
            + token

        """

    @Test func configMapKeysAndSecretNamesOnly() throws {
        let diff = ConfigDiff.build(rollout: "web", namespace: "shop", from: Self.old, to: Self.new)
        let text = ConfigDiffText.render(diff)
        #expect(text == Self.diffText)
        let cm = try #require(diff.sources.first { $0.source == "web-config" })
        #expect(cm.state == .changed)
        #expect(cm.keys.map(\.key) == ["BANNER", "LOG_LEVEL", "NEW_FLAG", "OLD_FLAG", "logo.png"])
        #expect(cm.keys.map(\.change) == [.changed, .changed, .added, .removed, .changed])
        let secret = try #require(diff.sources.first { $0.kind == .secret })
        #expect(secret.keys.allSatisfy { $0.old == nil && $0.new == nil })
        #expect(diff.images == [ConfigDiff.ImageChange(container: "web", old: "web:2.0", new: "web:3.0")])
    }

    @Test func noSecretValueAnywhere() throws {
        let diff = ConfigDiff.build(rollout: "web", namespace: "shop", from: Self.old, to: Self.new)
        let report = try Self.report()
        let outputs = [ConfigDiffText.render(diff), diff.json(), ReportText.render(report), ReportMarkdown.render(report), report.json()]
        for value in [Self.secretOld, Self.secretNew] {
            let encoded = Self.b64(value)
            for out in outputs {
                #expect(!out.contains(value))
                #expect(!out.contains(encoded))
                // Nor a piece of it, nor its length.
                #expect(!out.contains(String(value.prefix(8))))
                #expect(!out.contains(String(encoded.prefix(8))))
            }
        }
        // The Secret's lines are its key names and nothing else (no length, no digest).
        let secretLines = ConfigDiffText.render(diff).split(separator: "\n").drop { !$0.hasPrefix("  Secret db") }.prefix(4)
        #expect(secretLines == ["  Secret db (db-s1 → db-s2): changed (key names only; values are never shown)", "    - legacy", "    ~ password", "    + token"])
    }

    @Test func binaryDataIsComparedDecoded() {
        let a = Self.configMap("c-1", of: "c", data: [:], binary: ["blob": Self.b64("same")])
        let b = Self.configMap("c-2", of: "c", data: [:], binary: ["blob": Self.b64("same"), "more": Self.b64("\u{0}\u{1}")])
        let keys = ConfigDiff.keys(kind: .configMap, old: a, new: b)
        #expect(keys == [ConfigDiff.KeyChange(key: "more", change: .added, old: nil, new: "(binary, 2 bytes)")])
        #expect(ConfigDiff.keys(kind: .configMap, old: a, new: a).isEmpty)
    }

    @Test func unreadableSnapshotIsSaidPlainly() {
        var new = Self.new
        new.snapshots[2] = .init(ref: ConfigObjectRef(.secret, "db-s2"), error: "forbidden")
        let diff = ConfigDiff.build(rollout: "web", namespace: "shop", from: Self.old, to: new)
        let text = ConfigDiffText.render(diff)
        #expect(text.contains("""
              Secret db (db-s1 → db-s2): changed
                cannot read Secret db-s2: forbidden; showing names of snapshots only

            """))
        // Unread, its source is its name without the hash.
        #expect(diff.sources.first { $0.kind == .secret }?.state == .unreadable)
        #expect(text.contains("~ LOG_LEVEL"))
    }

    @Test func addedAndRemovedSourcesAndUntrackedRevisions() {
        var new = Self.new
        new.snapshots.removeLast()
        new.snapshots.append(.init(ref: ConfigObjectRef(.secret, "api-k1"), object: Self.secret("api-k1", of: "api", data: ["key": Self.secretNew])))
        let diff = ConfigDiff.build(rollout: "web", namespace: "shop", from: Self.old, to: new)
        let text = ConfigDiffText.render(diff)
        #expect(text.contains("  Secret api (none → api-k1): added in revision 3\n    + key\n"))
        #expect(text.contains("  Secret db (db-s1 → none): no longer used in revision 3\n    - legacy\n    - password\n    - user\n"))
        #expect(!text.contains(Self.secretNew) && !text.contains(Self.b64(Self.secretNew)))

        let untracked = ConfigDiff.Side(revision: 1, replicaSet: Self.replicaSet("zzz", revision: 1, image: "web:1.0", snapshots: nil), snapshots: [])
        let first = ConfigDiffText.render(ConfigDiff.build(rollout: "web", namespace: "shop", from: untracked, to: Self.old))
        #expect(first.contains("revision 1 has no config snapshots"))
    }

    @Test func valuesAreClippedToOneLine() {
        #expect(ConfigDiff.quoted("a\tb\u{7}c\"") == "\"a\\tb c\\\"\"")
        #expect(ConfigDiff.quoted(String(repeating: "é", count: 61)).hasSuffix("…\" (61 characters)"))
        #expect(ConfigDiff.sourceName(ofSnapshot: "web-config-b5f7c9") == "web-config")
        #expect(ConfigDiff.sourceName(ofSnapshot: "plain") == "plain")
        #expect(ConfigDiff.sourceName(ofSnapshot: "-x") == "-x")
    }

    // MARK: get rollout

    @Test func getShowsSnapshotsPerReplicaSet() {
        var rollout = RendererTests.rollout
        rollout.status?.stableRS = "aaa"
        let text = RolloutTree.render(.init(rollout: rollout,
                                            replicaSets: [Self.replicaSet("aaa", revision: 2, image: "web:2.0", snapshots: "Secret/db-s1,ConfigMap/web-config-aaa1"),
                                                          Self.replicaSet("bbb", revision: 3, image: "web:3.0", snapshots: "ConfigMap/web-config-bbb2,Secret/db-s2"),
                                                          Self.replicaSet("old", revision: 1, image: "web:1.0", snapshots: nil)],
                                            pods: [], runs: []), color: false)
        let tree = text.components(separatedBy: "INFO\n").last ?? ""
        #expect(tree == """
            ⟳ web            Rollout     ◌ Progressing
            ├──# revision:3
            │  └──⧉ web-bbb  ReplicaSet  ✔ Healthy      canary, 1/1 available
            │       config: ConfigMap/web-config-bbb2, Secret/db-s2
            ├──# revision:2
            │  └──⧉ web-aaa  ReplicaSet  ✔ Healthy      stable, 1/1 available
            │       config: ConfigMap/web-config-aaa1, Secret/db-s1
            └──# revision:1
               └──⧉ web-old  ReplicaSet  ✔ Healthy      old, 1/1 available

            """)
        let summary = RolloutSummary(.init(rollout: rollout, replicaSets: [Self.replicaSet("old", revision: 1, image: "web:1.0", snapshots: nil)], pods: [], runs: []))
        #expect(summary.revisions.first?.replicaSets.first?.configSnapshots == nil)
    }

    // MARK: report

    static func report() throws -> RolloutReport {
        var sets = ReportTests.replicaSets
        sets[1].metadata.annotations?[ConfigTracking.replicaSetAnnotation] = "ConfigMap/web-config-aaa1,ConfigMap/flags-f1,Secret/db-s1"
        sets[2].metadata.annotations?[ConfigTracking.replicaSetAnnotation] = "ConfigMap/web-config-bbb2,ConfigMap/flags-f1,Secret/db-s2"
        var input = RolloutReport.Input(rollout: ReportTests.rollout(aborted: true), replicaSets: sets, analysisRuns: [ReportTests.run(failed: true)],
                                        events: ReportTests.abortedEvents, now: ReportTests.at(120))
        let scope = try RolloutReport.scope(input)
        let wanted = RolloutReport.configSnapshotsToRead(scope)
        #expect(wanted.map(\.description) == ["ConfigMap/web-config-aaa1", "ConfigMap/web-config-bbb2", "Secret/db-s1", "Secret/db-s2"])
        input.configSnapshots = (Self.old.snapshots + Self.new.snapshots).filter { wanted.contains($0.ref) }
        return try RolloutReport.build(input)
    }

    @Test func reportNamesChangedSourcesAndKeys() throws {
        let report = try Self.report()
        let text = ReportText.render(report)
        #expect(text.contains("""

            Configuration (tracked ConfigMaps and Secrets, key names only)
              ConfigMap web-config: + NEW_FLAG, - OLD_FLAG, ~ BANNER, ~ LOG_LEVEL, ~ logo.png
              Secret db: + token, - legacy, ~ password

            Timeline
            """))
        #expect(!text.contains("debug") && !text.contains("flags"))
        #expect(ReportMarkdown.render(report).contains("| Configuration | Secret db: + token, - legacy, ~ password |"))
        // Untracked revisions: no part at all (and the JSON has no key).
        let plain = try ReportTests.report(aborted: true)
        #expect(plain.configuration == nil && !plain.json().contains("configuration"))
    }
}
