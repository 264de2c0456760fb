import Kube
import Logging
import Synchronization

/// A cache of one kind of object, fed by a `Reflector` (list, then watch), with
/// an optional secondary index. Reconciles read from here and never list.
public final class Informer<T: KubeObject & Decodable>: Sendable {
    public typealias Handler = @Sendable (_ old: T?, _ new: T?) -> Void
    /// What feeds the cache: a `Reflector` in the controller, a plain stream in tests.
    public typealias Events = any AsyncSequence<Reflector<T>.Event, any Error> & Sendable

    private struct Store {
        var objects: [ObjectKey: T] = [:]
        /// Objects that do not decode as T, by key: named, with the field that is wrong.
        var undecodable: [ObjectKey: Undecodable] = [:]
        var index: [IndexKey: Set<ObjectKey>] = [:]
        var synced = false
        /// Recently deleted keys and the version they were deleted at, so a
        /// late `store` of our own write cannot bring a deleted object back.
        var tombstones: [ObjectKey: Int] = [:]
    }

    private let events: Events
    private let indexKeys: (@Sendable (T) -> [IndexKey])?
    /// The reflector's transform, applied to what the controller stores of its own writes too.
    private let transform: (@Sendable (T) -> T)?
    private let cache = Mutex(Store())
    /// The handler sits in a class box: a closure kept directly in a Mutex is
    /// re-thunked on every inout access (two reabstraction thunks per event,
    /// nested ever deeper) until the stack overflows; this crashed the
    /// controller after some thousands of events at 1,000 Rollouts.
    private final class HandlerBox: Sendable {
        let call: Handler
        init(_ call: @escaping Handler) { self.call = call }
    }
    private let handler: Mutex<HandlerBox?> = Mutex(nil)
    public typealias UndecodableHandler = @Sendable (_ object: Undecodable, _ deleted: Bool) -> Void
    private final class UndecodableBox: Sendable {
        let call: UndecodableHandler
        init(_ call: @escaping UndecodableHandler) { self.call = call }
    }
    private let undecodableHandler: Mutex<UndecodableBox?> = Mutex(nil)
    private let logger: Logger

    /// - Parameter index: keys under which `byIndex` finds an object (e.g. its owner's UID).
    public convenience init(_ reflector: Reflector<T>, index: (@Sendable (T) -> [IndexKey])? = nil,
                            logger: Logger = Logger(label: "aviary.informer")) {
        self.init(events: reflector, index: index, transform: reflector.transform, logger: logger)
    }

    init(events: Events, index: (@Sendable (T) -> [IndexKey])? = nil, transform: (@Sendable (T) -> T)? = nil,
         logger: Logger = Logger(label: "aviary.informer")) {
        self.events = events
        self.indexKeys = index
        self.transform = transform
        self.logger = logger
    }

    public static func key(_ o: T) -> ObjectKey { ObjectKey(o.metadata) }

    /// Called for every change, after the cache has been updated.
    public func onChange(_ h: @escaping Handler) {
        let box = HandlerBox(h)
        handler.withLock { $0 = box }
    }

    /// Called when an object turns out not to decode (or such an object goes away).
    public func onUndecodable(_ h: @escaping UndecodableHandler) {
        let box = UndecodableBox(h)
        undecodableHandler.withLock { $0 = box }
    }

    public var hasSynced: Bool { cache.withLock { $0.synced } }
    public func undecodable(_ key: ObjectKey) -> Undecodable? { cache.withLock { $0.undecodable[key] } }
    public func allUndecodable() -> [Undecodable] { cache.withLock { Array($0.undecodable.values) } }
    public var count: Int { cache.withLock { $0.objects.count } }

    public func get(_ key: ObjectKey) -> T? { cache.withLock { $0.objects[key] } }
    public func get(namespace: String?, name: String) -> T? { get(ObjectKey(namespace: namespace, name: name)) }
    public func all() -> [T] { cache.withLock { Array($0.objects.values) } }
    /// A few fields of every object, taken under the lock: no copy of whole objects.
    public func map<R: Sendable>(_ transform: (T) -> R) -> [R] { cache.withLock { $0.objects.values.map(transform) } }

    public func byIndex(_ value: IndexKey) -> [T] {
        cache.withLock { s in (s.index[value] ?? []).compactMap { s.objects[$0] } }
    }

    /// Runs until cancelled.
    public func run() async {
        do {
            for try await event in events { apply(event) }
        } catch {
            if !(error is CancellationError) { logger.error("informer stopped: \(error)") }
        }
    }

    /// One event into the cache, then to the handlers.
    func apply(_ event: Reflector<T>.Event) {
        switch event {
        case .replaced(let items, let version): replace(items, at: version)
        case .added(let o), .modified(let o): upsert(o)
        case .deleted(let o): remove(o)
        case .undecodable(let u, let deleted): undecodable(u, deleted: deleted)
        }
    }

    /// Waits until the first list has been stored.
    public func waitForSync() async throws {
        while !hasSynced {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Puts an object the controller just wrote into the cache, so the next
    /// reconcile does not act on the version before its own write. An older
    /// version than the cached one is ignored. No change handler runs: the
    /// watch will report the same write.
    public func store(_ written: T) {
        let o = transform?(written) ?? written
        let k = Self.key(o)
        cache.withLock { s in
            let version = Int(o.metadata.resourceVersion ?? "")
            if let gone = s.tombstones[k], let version, version <= gone { return }
            if let cached = s.objects[k], let a = Int(cached.metadata.resourceVersion ?? ""), let version, a > version {
                return
            }
            if let old = s.objects[k], let indexKeys { for i in indexKeys(old) { s.index[i]?.remove(k) } }
            s.objects[k] = o
            if let indexKeys { for i in indexKeys(o) { s.index[i, default: []].insert(k) } }
        }
    }

    /// Drops an object the controller just deleted (the API answered with its
    /// last state), tombstoned at that version so a late event cannot bring it
    /// back. No change handler runs: the watch will report the deletion.
    public func forget(_ deleted: T) {
        let k = Self.key(deleted)
        cache.withLock { s in
            guard let old = s.objects.removeValue(forKey: k) else { return }
            if let indexKeys { for i in indexKeys(old) { s.index[i]?.remove(k) } }
            if s.tombstones.count > 10_000 { s.tombstones = [:] }
            s.tombstones[k] = max(Int(deleted.metadata.resourceVersion ?? "") ?? 0, Int(old.metadata.resourceVersion ?? "") ?? 0)
        }
    }

    /// A (re)list: the whole set as of `version`. An object missing from it was
    /// deleted while no watch was looking (client-go's "deleted, final state
    /// unknown"): its handler is told with the last version cached, and it is
    /// tombstoned at the list's version, so a late `store` cannot bring it back.
    ///
    /// Only keys are collected under the lock; the handlers then read the old
    /// objects from the replaced store and the new ones from the cache. At 10,000 Rollouts a list of
    /// (old, new) copies was the largest allocation of a cold start (34 MB,
    /// heaptrack), more than the store it described.
    private func replace(_ items: [T], at version: String) {
        let (before, changed, removed): ([ObjectKey: T], [ObjectKey], [ObjectKey]) = cache.withLock { s in
            var fresh: [ObjectKey: T] = [:]
            fresh.reserveCapacity(items.count)
            for o in items { fresh[Self.key(o)] = o }
            let removed = s.objects.keys.filter { fresh[$0] == nil }
            let changed = fresh.compactMap { k, o in s.objects[k]?.metadata.resourceVersion != o.metadata.resourceVersion ? k : nil }
            let gone = removed + s.tombstones.keys.filter { fresh[$0] == nil && s.objects[$0] == nil }
            let listed = Int(version) ?? Int.max
            s.tombstones = gone.count > 10_000 ? [:] : Dictionary(gone.map { ($0, listed) }, uniquingKeysWith: max)
            let before = s.objects
            s.objects = fresh
            s.undecodable = [:]
            s.index = [:]
            if let indexKeys {
                for (k, o) in fresh { for i in indexKeys(o) { s.index[i, default: []].insert(k) } }
            }
            s.synced = true
            return (before, changed, removed)
        }
        let h = handler.withLock { $0 }?.call
        for k in removed { h?(before[k], nil) }
        // Looked up again rather than kept: holding the new store would make
        // the next write to it copy all of it.
        for k in changed { if let now = get(k) { h?(before[k], now) } }
    }

    private func upsert(_ o: T) {
        let k = Self.key(o)
        let (old, applied): (T?, Bool) = cache.withLock { s in
            let old = s.objects[k]
            // An event older than a deletion we already know of (our own delete's answer) is history.
            if let gone = s.tombstones[k], let b = Int(o.metadata.resourceVersion ?? ""), b <= gone { return (old, false) }
            // Our own write may already be here, newer than this event: keep it.
            if let old, let a = Int(old.metadata.resourceVersion ?? ""), let b = Int(o.metadata.resourceVersion ?? ""), a > b {
                return (old, false)
            }
            if let old, let indexKeys { for i in indexKeys(old) { s.index[i]?.remove(k) } }
            s.objects[k] = o
            s.undecodable[k] = nil
            if let indexKeys { for i in indexKeys(o) { s.index[i, default: []].insert(k) } }
            return (old, true)
        }
        if applied { handler.withLock { $0 }?.call(old, o) }
    }

    /// An object that no longer decodes: its last good version is dropped (it
    /// is stale, and acting on it would be wrong), and it is kept by name.
    private func undecodable(_ u: Undecodable, deleted: Bool) {
        let k = ObjectKey(u.metadata)
        cache.withLock { s in
            if let old = s.objects.removeValue(forKey: k), let indexKeys { for i in indexKeys(old) { s.index[i]?.remove(k) } }
            if deleted {
                s.undecodable[k] = nil
                if s.tombstones.count > 10_000 { s.tombstones = [:] }
                s.tombstones[k] = Int(u.metadata.resourceVersion ?? "") ?? Int.max
            } else {
                s.undecodable[k] = u
            }
        }
        undecodableHandler.withLock { $0 }?.call(u, deleted)
    }

    private func remove(_ o: T) {
        let k = Self.key(o)
        let old: T? = cache.withLock { s in
            s.undecodable[k] = nil
            if s.tombstones.count > 10_000 { s.tombstones = [:] }
            s.tombstones[k] = Int(o.metadata.resourceVersion ?? "") ?? Int.max
            guard let old = s.objects.removeValue(forKey: k) else { return nil }
            if let indexKeys { for i in indexKeys(old) { s.index[i]?.remove(k) } }
            return old
        }
        handler.withLock { $0 }?.call(old ?? o, nil)
    }
}
