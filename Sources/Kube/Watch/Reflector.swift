import DequeModule
import Foundation
import Logging

/// List, then watch from the list's resourceVersion, forever: the feed an
/// informer cache is built from.
///
/// - A watch the server closes (its timeout) or a dropped connection resumes
///   from the last resourceVersion seen, bookmarks included, so no event is
///   delivered twice and none is missed.
/// - 410 Gone (the version was compacted away) relists and starts over; the
///   consumer gets `.replaced` with the whole current set.
/// - Other failures back off exponentially (capped) and try again.
///
/// It is pull-based: nothing is read from the server until the consumer asks
/// for the next event, so a slow consumer pauses the transfer instead of
/// growing a queue.
public struct Reflector<T: KubeObject & Decodable>: AsyncSequence, Sendable {
    public enum Event: Sendable {
        /// The complete current set, after a (re)list.
        case replaced([T], resourceVersion: String)
        case added(T)
        case modified(T)
        case deleted(T)
        /// An object that does not decode as `T` (after a list: one such event
        /// for each, right after `.replaced`); `deleted` when it went away.
        case undecodable(Undecodable, deleted: Bool)
    }

    public typealias Element = Event

    let client: KubeClient
    let resource: Resource
    let namespace: String?
    var labelSelector: String?
    var fieldSelector: String?
    /// Server-side watch lifetime; each connection picks a value in this range.
    var watchTimeout: ClosedRange<Int>
    var idleTimeout: Duration?
    var startResourceVersion: String?
    var pageSize: Int
    let logger: Logger
    /// What a cache keeps of each object (client-go's transform): applied to
    /// every listed page and watched object before anyone sees it.
    public let transform: (@Sendable (T) -> T)?

    /// By default each watch asks the server to end it within a minute (the
    /// server sends a bookmark just before), and a connection silent for 60 s
    /// is dropped: a half-open connection is noticed within a minute, not after
    /// the server's own ten. Resuming is cheap: it starts from the last
    /// resourceVersion seen, bookmarks included, without a list.
    ///
    /// - Parameter resourceVersion: resume a watch from here instead of listing first.
    public init(client: KubeClient, resource: Resource, namespace: String? = nil, labelSelector: String? = nil,
                fieldSelector: String? = nil, watchTimeout: ClosedRange<Int> = 45...55, idleTimeout: Duration? = .seconds(60),
                resourceVersion: String? = nil,
                pageSize: Int = 500, transform: (@Sendable (T) -> T)? = nil, logger: Logger = Logger(label: "aviary.reflector")) {
        self.transform = transform
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.watchTimeout = watchTimeout
        self.idleTimeout = idleTimeout
        self.startResourceVersion = resourceVersion
        self.pageSize = pageSize
        self.logger = logger
    }

    public func makeAsyncIterator() -> Iterator { Iterator(reflector: self) }

    public struct Iterator: AsyncIteratorProtocol {
        enum State {
            case needList
            case needWatch
            case watching(WatchStream<T>.Iterator)
        }

        let reflector: Reflector
        var state: State
        var resourceVersion: String?
        var failures = 0
        /// Events already decided, handed out before anything else is read.
        var pending: Deque<Event> = []
        /// Watch connections opened and lists made so far, for metrics and tests.
        public private(set) var watchConnections = 0
        public private(set) var lists = 0

        init(reflector: Reflector) {
            self.reflector = reflector
            self.resourceVersion = reflector.startResourceVersion
            self.state = reflector.startResourceVersion == nil ? .needList : .needWatch
        }

        public mutating func next() async throws -> Event? {
            let r = reflector
            while true {
                try Task.checkCancellation()
                if let event = pending.popFirst() { return event }
                switch state {
                case .needList:
                    do {
                        let list: ObjectList<T> = try await r.client.listAll(
                            r.resource, namespace: r.namespace,
                            options: ListOptions(labelSelector: r.labelSelector, fieldSelector: r.fieldSelector, limit: r.pageSize),
                            transform: r.transform)
                        // Without a version a watch would replay everything as ADDED: list again instead.
                        guard let rv = list.metadata.resourceVersion, !rv.isEmpty else {
                            throw KubeError.decoding("\(r.resource) list has no resourceVersion")
                        }
                        resourceVersion = rv
                        lists += 1
                        failures = 0
                        state = .needWatch
                        for reason in list.garbage {
                            r.logger.error("\(r.resource) list: skipping an item without readable metadata: \(reason)")
                        }
                        pending = Deque(list.undecodable.map { .undecodable($0, deleted: false) })
                        return .replaced(list.items, resourceVersion: rv)
                    } catch {
                        try await backOff(after: error, doing: "list")
                    }
                case .needWatch:
                    do {
                        let options = WatchOptions(resourceVersion: resourceVersion, labelSelector: r.labelSelector,
                                                   fieldSelector: r.fieldSelector, allowBookmarks: true,
                                                   timeoutSeconds: Int.random(in: r.watchTimeout), idleTimeout: r.idleTimeout)
                        let stream: WatchStream<T> = try await r.client.watch(r.resource, namespace: r.namespace, options: options)
                        state = .watching(stream.makeAsyncIterator())
                        watchConnections += 1
                        failures = 0
                    } catch let error as KubeError where error.isGone {
                        r.logger.info("\(r.resource) watch from \(resourceVersion ?? "?") is too old (410); relisting")
                        state = .needList
                    } catch {
                        try await backOff(after: error, doing: "watch")
                    }
                case .watching(var events):
                    do {
                        guard let event = try await events.next() else {
                            // The server ended the watch (its timeout): resume where we were.
                            state = .needWatch
                            continue
                        }
                        state = .watching(events)
                        failures = 0
                        switch event {
                        case .bookmark(let rv):
                            resourceVersion = rv
                        case .added(let o):
                            resourceVersion = o.metadata.resourceVersion ?? resourceVersion
                            return .added(r.transform?(o) ?? o)
                        case .modified(let o):
                            resourceVersion = o.metadata.resourceVersion ?? resourceVersion
                            return .modified(r.transform?(o) ?? o)
                        case .deleted(let o):
                            resourceVersion = o.metadata.resourceVersion ?? resourceVersion
                            return .deleted(r.transform?(o) ?? o)
                        case .undecodable(let u, let deleted):
                            resourceVersion = u.metadata.resourceVersion ?? resourceVersion
                            return .undecodable(u, deleted: deleted)
                        }
                    } catch let error as KubeError where error.isGone {
                        r.logger.info("\(r.resource) watch expired at \(resourceVersion ?? "?") (410); relisting")
                        state = .needList
                    } catch {
                        state = .needWatch
                        try await backOff(after: error, doing: "watch stream")
                    }
                }
            }
        }

        private mutating func backOff(after error: Error, doing what: String) async throws {
            if error is CancellationError || Task.isCancelled { throw CancellationError() }
            failures += 1
            // 0.2 s doubling to a 5 s cap: quick to recover, never a long stall.
            let delay = Swift.min(5.0, 0.2 * pow(2.0, Double(Swift.min(failures - 1, 10)))) * Double.random(in: 0.75...1.0)
            reflector.logger.warning("\(reflector.resource) \(what) failed (\(error)); retrying in \(String(format: "%.1f", delay))s")
            try await Task.sleep(for: .seconds(delay))
        }
    }
}
