import AviaryAPI
import Kube
import Synchronization
import Testing
@testable import Controller

/// The cache every reconcile reads: what each watch event does to it, its
/// index, the handler's (old, new), and the tombstones that keep a late write
/// of ours from bringing a deleted object back.
@Suite struct InformerTests {
    /// An informer of ReplicaSets fed by hand, and the changes its handler saw ("name@rv").
    struct Fixture {
        let informer = Informer<ReplicaSet>(events: AsyncThrowingStream<Reflector<ReplicaSet>.Event, any Error> { $0.finish() },
                                            index: IndexKey.replicaSet)
        private let seen = Lines()

        init() {
            informer.onChange { [seen] old, new in seen.append("\(Fixture.tag(old)) -> \(Fixture.tag(new))") }
        }

        static func tag(_ rs: ReplicaSet?) -> String { rs.map { "\($0.metadata.name ?? "")@\($0.metadata.resourceVersion ?? "")" } ?? "nil" }

        /// The changes seen since the last call.
        func changes() -> [String] { seen.take() }
    }

    static func rs(_ name: String, rv: Int, owner uid: String? = nil, namespace: String = "ns") -> ReplicaSet {
        var meta = ObjectMeta(name: name, namespace: namespace, labels: ["app": "web"],
                              ownerReferences: uid.map { [OwnerReference(apiVersion: Rollout.apiVersion, kind: "Rollout", name: "web", uid: $0, controller: true)] })
        meta.resourceVersion = String(rv)
        return ReplicaSet(metadata: meta, spec: .init(replicas: 1, selector: LabelSelector(matchLabels: ["app": "web"]), template: nil))
    }

    static func key(_ name: String) -> ObjectKey { ObjectKey(namespace: "ns", name: name) }

    @Test func aListFillsTheCacheAndMarksItSynced() {
        let f = Fixture()
        #expect(!f.informer.hasSynced)
        f.informer.apply(.replaced([Self.rs("a", rv: 1), Self.rs("b", rv: 2, owner: "u1")], resourceVersion: "2"))
        #expect(f.informer.hasSynced)
        #expect(f.informer.count == 2)
        #expect(f.informer.get(Self.key("a"))?.metadata.resourceVersion == "1")
        #expect(f.informer.get(namespace: "ns", name: "b") != nil)
        #expect(f.changes().sorted() == ["nil -> a@1", "nil -> b@2"])
    }

    @Test func anUpsertReplacesTheObjectAndTellsOldAndNew() {
        let f = Fixture()
        f.informer.apply(.added(Self.rs("a", rv: 1)))
        f.informer.apply(.modified(Self.rs("a", rv: 3)))
        #expect(f.informer.get(Self.key("a"))?.metadata.resourceVersion == "3")
        #expect(f.changes() == ["nil -> a@1", "a@1 -> a@3"])
        // A stale event (older than what is cached) changes nothing and tells no one.
        f.informer.apply(.modified(Self.rs("a", rv: 2)))
        #expect(f.informer.get(Self.key("a"))?.metadata.resourceVersion == "3")
        #expect(f.changes().isEmpty)
    }

    /// A pod the controller deleted at once leaves the cache with the API's
    /// answer; the watch's older events (sent before the delete) do not bring
    /// it back, and a new object of the same name (a higher version) does come in.
    @Test func anObjectWeDeletedStaysGoneUntilTheWatchSaysOtherwise() {
        let f = Fixture()
        f.informer.apply(.added(Self.rs("a", rv: 1)))
        _ = f.changes()
        f.informer.forget(Self.rs("a", rv: 3))
        #expect(f.informer.get(Self.key("a")) == nil)
        #expect(f.changes().isEmpty, "the watch reports the deletion itself")
        f.informer.apply(.modified(Self.rs("a", rv: 2)))
        #expect(f.informer.get(Self.key("a")) == nil, "an event from before the delete")
        f.informer.store(Self.rs("a", rv: 3))
        #expect(f.informer.get(Self.key("a")) == nil)
        f.informer.apply(.added(Self.rs("a", rv: 9)))
        #expect(f.informer.get(Self.key("a"))?.metadata.resourceVersion == "9")
        // Forgetting what is not cached changes nothing.
        f.informer.forget(Self.rs("zzz", rv: 4))
        #expect(f.informer.count == 1)
    }

    @Test func ourOwnWriteIsKeptOverAnOlderWatchEvent() {
        let f = Fixture()
        f.informer.apply(.added(Self.rs("a", rv: 1)))
        _ = f.changes()
        // The controller wrote version 5; the watch is still catching up with version 4.
        f.informer.store(Self.rs("a", rv: 5))
        #expect(f.changes().isEmpty, "store tells no handler: the watch reports the same write")
        f.informer.apply(.modified(Self.rs("a", rv: 4)))
        #expect(f.informer.get(Self.key("a"))?.metadata.resourceVersion == "5")
        // An older answer stored late does not replace a newer one either.
        f.informer.store(Self.rs("a", rv: 2))
        #expect(f.informer.get(Self.key("a"))?.metadata.resourceVersion == "5")
    }

    @Test func theIndexFollowsAnObjectAcrossChanges() {
        let f = Fixture()
        f.informer.apply(.replaced([Self.rs("orphan", rv: 1), Self.rs("owned", rv: 2, owner: "u1")], resourceVersion: "2"))
        #expect(f.informer.byIndex(.orphan(namespace: "ns")).map(\.metadata.name) == ["orphan"])
        #expect(f.informer.byIndex(.controller(uid: "u1")).map(\.metadata.name) == ["owned"])
        #expect(f.informer.byIndex(.controller(uid: "nobody")).isEmpty)
        // Adopted: it moves from the orphans to its owner.
        f.informer.apply(.modified(Self.rs("orphan", rv: 3, owner: "u1")))
        #expect(f.informer.byIndex(.orphan(namespace: "ns")).isEmpty)
        #expect(Set(f.informer.byIndex(.controller(uid: "u1")).compactMap(\.metadata.name)) == ["orphan", "owned"])
        // Our own write re-indexes too.
        f.informer.store(Self.rs("owned", rv: 4, owner: "u2"))
        #expect(f.informer.byIndex(.controller(uid: "u2")).map(\.metadata.name) == ["owned"])
        #expect(f.informer.byIndex(.controller(uid: "u1")).map(\.metadata.name) == ["orphan"])
        // Orphans of another namespace are apart.
        f.informer.apply(.added(Self.rs("elsewhere", rv: 5, namespace: "other")))
        #expect(f.informer.byIndex(.orphan(namespace: "other")).map(\.metadata.name) == ["elsewhere"])
    }

    @Test func aDeleteRemovesTheObjectAndItsIndexAndTombstonesIt() {
        let f = Fixture()
        f.informer.apply(.added(Self.rs("a", rv: 1, owner: "u1")))
        _ = f.changes()
        f.informer.apply(.deleted(Self.rs("a", rv: 6, owner: "u1")))
        #expect(f.informer.get(Self.key("a")) == nil)
        #expect(f.informer.byIndex(.controller(uid: "u1")).isEmpty)
        #expect(f.changes() == ["a@1 -> nil"], "the handler gets the last version cached")
        // A late answer to a write made before the delete does not bring it back.
        f.informer.store(Self.rs("a", rv: 5, owner: "u1"))
        #expect(f.informer.get(Self.key("a")) == nil)
        // A newer one (created again) does.
        f.informer.store(Self.rs("a", rv: 7, owner: "u1"))
        #expect(f.informer.get(Self.key("a"))?.metadata.resourceVersion == "7")
    }

    @Test func aDeleteOfSomethingNeverSeenStillTellsTheHandler() {
        let f = Fixture()
        f.informer.apply(.deleted(Self.rs("ghost", rv: 9)))
        #expect(f.changes() == ["ghost@9 -> nil"])
        f.informer.store(Self.rs("ghost", rv: 8))
        #expect(f.informer.get(Self.key("ghost")) == nil)
    }

    /// Deleted while no watch was looking (client-go's DeletedFinalStateUnknown): the relist tells it.
    @Test func aRelistTellsWhatVanishedAndTombstonesItAtTheListVersion() {
        let f = Fixture()
        f.informer.apply(.replaced([Self.rs("a", rv: 1), Self.rs("b", rv: 2)], resourceVersion: "2"))
        _ = f.changes()
        f.informer.apply(.replaced([Self.rs("a", rv: 1), Self.rs("c", rv: 15)], resourceVersion: "20"))
        #expect(f.changes().sorted() == ["b@2 -> nil", "nil -> c@15"], "unchanged a is not reported")
        #expect(f.informer.get(Self.key("b")) == nil)
        #expect(f.informer.byIndex(.orphan(namespace: "ns")).compactMap(\.metadata.name).sorted() == ["a", "c"])
        // A late answer from before the list cannot resurrect b; one after it can.
        f.informer.store(Self.rs("b", rv: 19))
        #expect(f.informer.get(Self.key("b")) == nil)
        f.informer.store(Self.rs("b", rv: 21))
        #expect(f.informer.get(Self.key("b")) != nil)
        // A changed object is told with its old and new versions.
        f.informer.apply(.replaced([Self.rs("a", rv: 25), Self.rs("b", rv: 21), Self.rs("c", rv: 15)], resourceVersion: "30"))
        #expect(f.changes() == ["a@1 -> a@25"])
    }

    @Test func anObjectThatStopsDecodingLeavesTheCacheAndIsKeptByName() {
        let f = Fixture()
        let said = Lines()
        f.informer.onUndecodable { u, deleted in said.append("\(u.metadata.name ?? "") deleted=\(deleted)") }
        f.informer.apply(.added(Self.rs("a", rv: 1, owner: "u1")))
        var meta = ObjectMeta(name: "a", namespace: "ns")
        meta.resourceVersion = "2"
        let u = Undecodable(metadata: meta, error: "spec.replicas: expected an integer")
        f.informer.apply(.undecodable(u, deleted: false))
        #expect(f.informer.get(Self.key("a")) == nil, "the stale good version is not acted on")
        #expect(f.informer.byIndex(.controller(uid: "u1")).isEmpty)
        #expect(f.informer.undecodable(Self.key("a"))?.error == "spec.replicas: expected an integer")
        #expect(f.informer.allUndecodable().count == 1)
        // Fixed: decodes again, and is no longer listed as undecodable.
        f.informer.apply(.modified(Self.rs("a", rv: 3, owner: "u1")))
        #expect(f.informer.undecodable(Self.key("a")) == nil)
        #expect(f.informer.get(Self.key("a")) != nil)
        // Broken and then deleted: gone, tombstoned.
        meta.resourceVersion = "4"
        f.informer.apply(.undecodable(Undecodable(metadata: meta, error: "x"), deleted: false))
        meta.resourceVersion = "5"
        f.informer.apply(.undecodable(Undecodable(metadata: meta, error: "x"), deleted: true))
        #expect(f.informer.undecodable(Self.key("a")) == nil)
        f.informer.store(Self.rs("a", rv: 5))
        #expect(f.informer.get(Self.key("a")) == nil)
        #expect(said.take() == ["a deleted=false", "a deleted=false", "a deleted=true"])
    }

    @Test func runAppliesWhatItsEventSourceSends() async throws {
        let (events, feed) = AsyncThrowingStream.makeStream(of: Reflector<ReplicaSet>.Event.self)
        let informer = Informer<ReplicaSet>(events: events, index: IndexKey.replicaSet)
        feed.yield(.replaced([Self.rs("a", rv: 1)], resourceVersion: "1"))
        feed.yield(.added(Self.rs("b", rv: 2, owner: "u1")))
        feed.finish()
        await informer.run()
        try await informer.waitForSync()
        #expect(informer.count == 2)
        #expect(informer.byIndex(.controller(uid: "u1")).map(\.metadata.name) == ["b"])
    }
}

/// Lines recorded from handlers, which may run on any thread.
final class Lines: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    /// The lines so far, and a fresh start.
    func take() -> [String] { lines.withLock { l in defer { l = [] }; return l } }

    var all: [String] { lines.withLock { $0 } }
}
