import Controller
import Synchronization

/// Which Rollouts changed, for every open page: the informers publish keys,
/// and every `interval` the keys gathered since the last flush go to each
/// subscriber once. So a burst of pod updates is one `changed` per Rollout,
/// at most 1/interval a second, however many objects moved.
public final class ChangeFeed: Sendable {
    public static let maxSubscribers = 64

    private struct State {
        var pending: Set<ObjectKey> = []
        var subscribers: [Int: AsyncStream<ObjectKey>.Continuation] = [:]
        var nextID = 0
    }
    private let state = Mutex(State())
    let interval: Duration

    public init(interval: Duration = .milliseconds(250)) {
        self.interval = interval
    }

    /// A Rollout (or something of its family) changed. Nothing is gathered while no page is open.
    public func publish(_ key: ObjectKey) {
        state.withLock { s in
            guard !s.subscribers.isEmpty, s.pending.count < 10_000 else { return }
            s.pending.insert(key)
        }
    }

    /// Keys as they are flushed; nil when `maxSubscribers` pages are open already.
    /// Ending the iteration (a closed connection) unsubscribes.
    public func subscribe() -> AsyncStream<ObjectKey>? {
        let (stream, continuation) = AsyncStream<ObjectKey>.makeStream(bufferingPolicy: .bufferingNewest(1_000))
        let id: Int? = state.withLock { s in
            guard s.subscribers.count < Self.maxSubscribers else { return nil }
            s.nextID += 1
            s.subscribers[s.nextID] = continuation
            return s.nextID
        }
        guard let id else { return nil }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Hands out what was gathered, every `interval`, until cancelled.
    public func run() async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            flush()
        }
        let all = state.withLock { s in Array(s.subscribers.values) }
        for c in all { c.finish() }
    }

    func flush() {
        let (keys, subscribers) = state.withLock { s in
            defer { s.pending = [] }
            return (s.pending.sorted(), Array(s.subscribers.values))
        }
        guard !keys.isEmpty else { return }
        for c in subscribers { for k in keys { c.yield(k) } }
    }
}
