import CAllocator
import ServiceLifecycle

/// glibc's allocator, tuned for a process whose memory is its caches.
///
/// Measured against 10,000 Rollouts (README, Benchmarks → Scale): with
/// glibc's default of up to eight arenas per core the controller's memory
/// was spread over six arenas, each keeping its own freed pages; two arenas
/// took the steady RSS from 268 to 250 MiB, and giving freed pages back
/// (`malloc_trim`) took a further 20 MiB. Both are what Go and JVM services
/// on glibc are commonly told to do (`MALLOC_ARENA_MAX=2`).
public enum MemoryTuning {
    /// Arenas when the environment does not say: `MALLOC_ARENA_MAX`, if set, wins (glibc reads it itself).
    public static let defaultArenas: Int32 = 2

    /// Blocks from this size up are mapped on their own and given back when freed.
    public static let mmapThreshold: Int32 = 128 * 1024

    /// Call before the work starts: arenas are made as threads first contend.
    /// The environment wins where it says (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`: glibc reads them itself).
    public static func tune(environment: [String: String]) {
        if environment["MALLOC_ARENA_MAX"] == nil { _ = aviary_limit_arenas(defaultArenas) }
        // A cold start's transients (each list's pages and items, the new store
        // being built) are large blocks freed soon after; with glibc's dynamic
        // threshold they came from the heap and were kept.
        if environment["MALLOC_MMAP_THRESHOLD_"] == nil { _ = aviary_fix_mmap_threshold(mmapThreshold) }
    }

    /// Returns freed pages to the system (all arenas, not only the tops).
    public static func trim() {
        _ = aviary_trim()
    }
}

/// Trims once a minute: a relist or a burst of updates frees far more than
/// the steady state holds, and glibc keeps what it freed unless asked.
public struct MemoryTrimService: Service {
    let interval: Duration

    public init(interval: Duration = .seconds(60)) { self.interval = interval }

    /// Ends on the group's graceful shutdown (SIGTERM): a service that kept
    /// sleeping would hold the process up, and the Lease hand-over with it.
    public func run() async throws {
        await cancelWhenGracefulShutdown { [interval] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: interval) } catch { return }
                MemoryTuning.trim()
            }
        }
    }
}
