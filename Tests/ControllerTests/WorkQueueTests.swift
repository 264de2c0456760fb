import Testing
@testable import Controller

@Suite struct WorkQueueTests {
    @Test func aKeyIsQueuedOnceHoweverOftenAdded() async {
        let q = WorkQueue()
        for _ in 0..<5 { await q.add("ns/a") }
        await q.add("ns/b")
        #expect(await q.depth == 2)
        #expect(await q.get() == "ns/a")
        #expect(await q.get() == "ns/b")
    }

    @Test func aKeyBeingProcessedIsNotHandedOutAgainUntilDone() async {
        let q = WorkQueue()
        await q.add("ns/a")
        #expect(await q.get() == "ns/a")
        // Changed while a worker has it: queued again only after done.
        await q.add("ns/a")
        #expect(await q.depth == 0)
        await q.done("ns/a")
        #expect(await q.depth == 1)
        #expect(await q.get() == "ns/a")
    }

    @Test func theSoonerWakeUpWins() async throws {
        let q = WorkQueue()
        await q.add("ns/a", after: 600)
        await q.add("ns/a", after: 0.05)
        #expect(await q.pendingTimers == 1)
        let start = ContinuousClock.now
        #expect(await q.get() == "ns/a")
        // Not the 600 s timer: the bound says which timer fired, not how fast (a loaded machine may be slow).
        #expect(ContinuousClock.now - start < .seconds(120))
    }

    @Test func failuresBackOffExponentiallyAndAreCapped() async throws {
        let q = WorkQueue(baseDelay: 0.01, maxDelay: 0.05)
        var delays: [Duration] = []
        for _ in 0..<6 {
            let start = ContinuousClock.now
            await q.addRateLimited("ns/a")
            #expect(await q.get() == "ns/a")
            delays.append(ContinuousClock.now - start)
            await q.done("ns/a")
        }
        #expect(delays[0] >= .milliseconds(9))
        #expect(delays[2] >= .milliseconds(39))
        #expect(delays[5] < .seconds(1), "capped")
        await q.forget("ns/a")
    }

    @Test func shutDownReleasesWaitingWorkers() async {
        let q = WorkQueue()
        async let waiting = q.get()
        try? await Task.sleep(for: .milliseconds(20))
        await q.shutDown()
        #expect(await waiting == nil)
    }
}
