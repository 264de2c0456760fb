import DequeModule

/// At most `limit` measurements at a time, apart from the rollout workers: a
/// slow provider fills this compartment and no other.
public actor Bulkhead {
    public let limit: Int
    private var inUse = 0
    private var waiting: Deque<CheckedContinuation<Void, Never>> = []

    public init(limit: Int) { self.limit = max(1, limit) }

    public func run<T: Sendable>(_ work: @Sendable () async -> T) async -> T {
        await acquire()
        let result = await work()
        release()
        return result
    }

    private func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func release() {
        if let next = waiting.popFirst() {
            next.resume()
        } else {
            inUse -= 1
        }
    }
}
