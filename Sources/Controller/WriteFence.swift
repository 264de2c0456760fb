import Synchronization

/// Whether this process may still write. Leader election closes it the moment
/// leadership is lost; every write of the Executor and the analysis runner
/// passes it first, so a reconcile already in flight when the Lease went to
/// someone else makes no further change.
public final class WriteFence: Sendable {
    private let open = Atomic<Bool>(true)

    public init() {}

    public var isOpen: Bool { open.load(ordering: .acquiring) }

    public func close() { open.store(false, ordering: .releasing) }

    /// Throws when closed.
    public func check() throws {
        guard isOpen else { throw NotLeading() }
    }

    public struct NotLeading: Error, CustomStringConvertible {
        public var description: String { "not writing: this controller is no longer the leader" }
    }
}
