import Testing
@testable import Controller

@Suite struct WorkQueueTests {
    @Test func aKeyIsQueuedOnceHoweverOftenAdded() async {
        let q = WorkQueue<String>()
        for _ in 0..<5 { q.add("ns/a") }
        q.add("ns/b")
        #expect(q.depth == 2)
        #expect(await q.get() == "ns/a")
        #expect(await q.get() == "ns/b")
    }

    @Test func aKeyBeingProcessedIsNotHandedOutAgainUntilDone() async {
        let q = WorkQueue<String>()
        q.add("ns/a")
        #expect(await q.get() == "ns/a")
        // Changed while a worker has it: queued again only after done.
        q.add("ns/a")
        #expect(q.depth == 0)
        q.done("ns/a")
        #expect(q.depth == 1)
        #expect(await q.get() == "ns/a")
    }

    @Test func theSoonerWakeUpWins() async throws {
        let q = WorkQueue<String>()
        q.add("ns/a", after: 600)
        q.add("ns/a", after: 0.05)
        #expect(q.pendingTimers == 1)
        let start = ContinuousClock.now
        #expect(await q.get() == "ns/a")
        // Not the 600 s timer: the bound says which timer fired, not how fast (a loaded machine may be slow).
        #expect(ContinuousClock.now - start < .seconds(120))
    }

    @Test func failuresBackOffExponentiallyAndAreCapped() async throws {
        let q = WorkQueue<String>(baseDelay: 0.01, maxDelay: 0.05)
        var delays: [Duration] = []
        for _ in 0..<6 {
            let start = ContinuousClock.now
            q.addRateLimited("ns/a")
            #expect(await q.get() == "ns/a")
            delays.append(ContinuousClock.now - start)
            q.done("ns/a")
        }
        #expect(delays[0] >= .milliseconds(9))
        #expect(delays[2] >= .milliseconds(39))
        #expect(delays[5] < .seconds(1), "capped")
        q.forget("ns/a")
    }

    @Test func shutDownReleasesWaitingWorkers() async {
        let q = WorkQueue<String>()
        async let waiting = q.get()
        try? await Task.sleep(for: .milliseconds(20))
        q.shutDown()
        #expect(await waiting == nil)
    }

    @Test func addingIsSynchronousAndSafeFromManyThreads() async {
        let q = WorkQueue<String>()
        // As informers' change handlers add: from any thread, no task, no await.
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 { group.addTask { for i in 0..<500 { q.add("ns/k\(i % 50)") } } }
        }
        #expect(q.depth == 50)
    }

    @Test func aWaitingWorkerGetsAKeyAddedLater() async {
        let q = WorkQueue<String>()
        async let next = q.get()
        try? await Task.sleep(for: .milliseconds(20))
        q.add("ns/a")
        #expect(await next == "ns/a")
        // Handed straight to the worker: not waiting in the queue, and not handed out twice.
        #expect(q.depth == 0)
        q.add("ns/a")
        #expect(q.depth == 0)
        q.done("ns/a")
        #expect(q.depth == 1)
    }

    @Test func afterShutDownNothingIsQueuedOrWokenUp() async {
        let q = WorkQueue<String>()
        q.add("ns/a", after: 600)
        q.shutDown()
        #expect(q.pendingTimers == 0)
        q.add("ns/b")
        q.add("ns/c", after: 1)
        #expect(q.depth == 0 && q.pendingTimers == 0)
        #expect(await q.get() == nil)
    }
}
