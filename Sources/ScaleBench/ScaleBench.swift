import ArgumentParser
import AviaryAPI
import Foundation
import Kube
import Synchronization

/// The scale benchmark (scripts/bench-scale.sh runs it on the local control
/// plane): N one-replica canary Rollouts, each ending with two ReplicaSets,
/// and a real `aviary controller` process measured from outside.
@main
struct ScaleBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "aviary-scale-bench", abstract: "Measure the controller at scale.")

    @Option var kubeconfig: String
    @Option(help: "The aviary binary to run as the controller.") var controller: String
    @Option var rollouts = 1000
    @Option(help: "Rollouts updated at once for the latency figure.") var updates = 100
    @Option(help: "Seconds of idle measurement.") var idle = 60
    @Option var namespace = "scale"
    @Option(help: "Seconds of churn: Rollouts updated at --churn-rate per second, round robin (0: none).") var churn = 0
    @Option(help: "Updates per second during the churn.") var churnRate = 20
    @Option(help: "Then this many controllers with --instance-id, each taking its share of the Rollouts (0 or 1: none).") var shards = 0
    @Flag(help: "Stop after the first deploy (with --keep in bench-scale.sh: a cluster prepared once for start-up measurements).")
    var deployOnly = false
    @Flag(help: """
        Give each Rollout its older ReplicaSet (revision 1, scaled to 0) from the benchmark, not by updating \
        every Rollout through the controller: at 10,000 that update goes at the cluster's pace (hours here). \
        Skips the API-requests-per-step figure.
        """)
    var seededHistory = false

    /// p50 and p99 of a sample (NaN when empty).
    static func percentiles(_ values: [Double]) -> (Double, Double) {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return (.nan, .nan) }
        return (sorted[sorted.count / 2], sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))])
    }

    /// A count read from /metrics (a Double in the text format), never trapping on NaN or a huge value.
    static func count(_ value: Double) -> Int {
        guard value.isFinite else { return 0 }
        return Int(min(max(value, 0), 1e15))
    }

    func run() async throws {
        let benchStart = ContinuousClock.now
        let client = KubeClient(access: try KubeConfig.load(explicitPath: kubeconfig).access(), qps: 0, burst: 0)
        let ns = namespace
        do {
            let _: Metadata = try await client.create(.namespaces, Metadata(metadata: ObjectMeta(name: ns)))
        } catch let e as KubeError where e.isAlreadyExists || e.isConflict {}
        say("creating \(rollouts) Rollouts (1 replica, steps: setWeight 50)")
        try await forEach(rollouts) { i in
            let r = Self.rollout(i, image: "registry.example/app:1")
            var created: JSONValue?
            do { created = try await client.create(Rollout.resource, r, namespace: ns) } catch let e as KubeError where e.isAlreadyExists {}
            if created == nil {
                // A kept cluster: an earlier run's shard label would hide the Rollout from an unsharded controller.
                let existing: JSONValue = try await client.get(Rollout.resource, "app-\(i)", namespace: ns)
                created = existing
                if existing["metadata"]?["labels"]?[instanceIDLabel] != nil {
                    let _: JSONValue = try await client.patch(Rollout.resource, "app-\(i)", namespace: ns,
                                                              .merge(["metadata": ["labels": [.init(stringLiteral: instanceIDLabel): .null]]]))
                }
            }
            if seededHistory {
                let uid = created?["metadata"]?["uid"]?.stringValue ?? ""
                do { let _: JSONValue = try await client.create(.replicaSets, Self.olderReplicaSet(i, rolloutUID: uid), namespace: ns) }
                catch let e as KubeError where e.isAlreadyExists {}
            }
        }

        // 1. A cold start: first deploy of every Rollout.
        var c = try Controller(binary: controller, kubeconfig: kubeconfig, namespace: ns)
        let firstSync = try await c.syncedAfter()
        let firstFull = try await waitAll(client, ns, "all \(rollouts) deployed", controller: c) { $0.status?.phase == .Healthy && $0.status?.stableRS != nil }
        say(String(format: "first deploy: caches synced %.2f s, all Healthy %.1f s", firstSync, firstFull))
        if deployOnly {
            say(String(format: "deployed; controller peak RSS %.1f MiB; stopping here (--deploy-only)", c.peakRSSMiB()))
            c.stop()
            return
        }

        // 2. Every Rollout updated once, so each has two ReplicaSets; API requests per step.
        var perStep: Double?
        if !seededHistory {
            let before = try await c.writes()
            try await forEach(rollouts) { i in try await Self.setImage(client, ns, i, "registry.example/app:2") }
            let updateAll = try await waitAll(client, ns, "all updated", controller: c) { $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash && $0.metadata.generation == 2 && $0.status?.observedGeneration == 2 }
            let after = try await c.writes()
            // Steps per update: setWeight 50, then the promotion.
            perStep = Double(after.total - before.total) / Double(rollouts * 2)
            say(String(format: "update of all: %.1f s; %.1f API requests per completed step (%d in all)", updateAll, perStep ?? 0, after.total - before.total))
        }
        c.stop()

        // 3. A warm restart with everything in place: sync, first full reconcile (no writes), memory.
        c = try Controller(binary: controller, kubeconfig: kubeconfig, namespace: ns)
        let sync = try await c.syncedAfter()
        let fullStart = ContinuousClock.now
        try await c.waitReconciled(atLeast: rollouts)
        let full = sync + seconds(ContinuousClock.now - fullStart)
        let startPeak = c.peakRSSMiB()
        say(String(format: "restart: caches synced %.2f s, all %d reconciled %.2f s, peak RSS so far %.1f MiB", sync, rollouts, full, startPeak))

        // 4. Spec change → canary ReplicaSet, for `updates` Rollouts at once.
        let windowStart = TimerWindow.Scrape(try await c.metrics())
        let (cpuStart, machineStart, clockStart) = (c.cpuSeconds(), MachineCPU.read(), ContinuousClock.now)
        let (latencies, committed, patchTimes) = try await changeLatency(client, ns)
        let window = TimerWindow(before: windowStart, after: TimerWindow.Scrape(try await c.metrics()))
        let windowSeconds = seconds(ContinuousClock.now - clockStart)
        let controllerShare = (c.cpuSeconds() - cpuStart) / max(windowSeconds, 0.001) * 100
        let machineBusy = MachineCPU.read().busy(since: machineStart) * 100
        let (p50, p99) = Self.percentiles(latencies), (committedP50, committedP99) = Self.percentiles(committed)
        let (patchP50, patchP99) = Self.percentiles(patchTimes)
        say(String(format: "spec change → canary ReplicaSet (%d at once): p50 %.0f ms, p99 %.0f ms", updates, p50 * 1000, p99 * 1000))
        _ = try await waitAll(client, ns, "the updated ones settled") { $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash }

        // 5. Idle: writes and CPU over the idle window with nothing changing.
        try await Task.sleep(for: .seconds(3))
        let idleWritesBefore = try await c.writes(), cpuBefore = c.cpuSeconds()
        try await Task.sleep(for: .seconds(idle))
        let idleWrites = try await c.writes().writes - idleWritesBefore.writes
        let cpu = (c.cpuSeconds() - cpuBefore) / Double(idle) * 100
        let rss = c.peakRSSMiB()

        // 6. Churn: a sustained rate of spec changes; queue depth, latency and errors throughout.
        var churnFigures: ChurnFigures?
        if churn > 0 {
            churnFigures = try await churnRun(client, ns, c)
            _ = try await waitAll(client, ns, "the churned ones settled", controller: c) { $0.status?.phase == .Healthy && $0.status?.stableRS == $0.status?.currentPodHash }
        }
        let rssAfterChurn = c.peakRSSMiB()
        c.stop()

        // 7. Sharding: the Rollouts labelled across `shards` controllers, each taking only its own.
        var shardFigures: [(id: String, rss: Double, rollouts: Int, synced: Double)] = []
        var shardOverlap = 0, shardMissing = 0
        if shards > 1 {
            say("labelling the Rollouts across \(shards) shards")
            try await forEach(rollouts) { i in
                let _: JSONValue = try await client.patch(Rollout.resource, "app-\(i)", namespace: ns,
                                                          .merge(["metadata": ["labels": [.init(stringLiteral: instanceIDLabel): .string("shard-\(i % shards)")]]]))
            }
            var controllers: [Controller] = []
            for k in 0..<shards {
                controllers.append(try Controller(binary: controller, kubeconfig: kubeconfig, namespace: ns, instanceID: "shard-\(k)"))
            }
            var owners: [String: Int] = [:]
            for (k, sc) in controllers.enumerated() {
                let synced = try await sc.syncedAfter()
                try await sc.waitReconciled(atLeast: rollouts / shards)
                let names = try await sc.rolloutNames()
                for n in names { owners[n, default: 0] += 1 }
                shardFigures.append(("shard-\(k)", 0, names.count, synced))
            }
            try await Task.sleep(for: .seconds(5))
            for (k, sc) in controllers.enumerated() {
                shardFigures[k].rss = sc.peakRSSMiB()
                sc.stop()
            }
            shardOverlap = owners.values.filter { $0 > 1 }.count
            shardMissing = rollouts - owners.count
        }
        print("")
        print("scale benchmark: \(rollouts) Rollouts × 2 ReplicaSets, 1 replica each, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print(String(format: "  controller peak RSS            %8.1f MiB  (baseline included; run two sizes for the cost per Rollout)", rss))
        print(String(format: "  caches synced after start      %8.2f s", sync))
        print(String(format: "  first full reconcile           %8.2f s", full))
        print(String(format: "  peak RSS by then               %8.1f MiB  (the cold start's peak: caches filling, then every Rollout reconciled)", startPeak))
        print(String(format: "  first deploy of all            %8.1f s  (the cluster creating and readying %d pods)", firstFull, rollouts))
        print(String(format: "  spec change → canary RS        p50 %.0f ms, p99 %.0f ms  (%d Rollouts at once)", p50 * 1000, p99 * 1000, updates))
        print(String(format: "    the benchmark's own PATCH    p50 %.0f ms, p99 %.0f ms  (inside the figure above)", patchP50 * 1000, patchP99 * 1000))
        print(String(format: "    PATCH answered → canary RS   p50 %.0f ms, p99 %.0f ms  (from the change committed)", committedP50 * 1000, committedP99 * 1000))
        print(String(format: "    over those %.1f s: the machine %.0f %% busy (all cores), the controller %.0f %% of one core", windowSeconds, machineBusy, controllerShare))
        print("    the controller's timers over those updates:")
        for line in window.report() { print(line) }
        if let perStep {
            print(String(format: "  API requests per canary step   %8.1f", perStep))
        } else {
            print("  API requests per canary step   not measured (--seeded-history: no update of all)")
        }
        print(String(format: "  idle over %d s                  %d writes, %.2f %% CPU", idle, idleWrites, cpu))
        if let f = churnFigures {
            print(String(format: "  churn %d updates/s for %d s     %d updates; change → RS p50 %.0f ms, p99 %.0f ms; queue depth max %d; %d reconcile errors; peak RSS %.1f MiB",
                         churnRate, churn, f.updates, f.p50 * 1000, f.p99 * 1000, f.maxDepth, f.errors, rssAfterChurn))
            if f.unseen > 0 { print("    of which \(f.unseen) saw no ReplicaSet within 2 minutes of the last change (left out of p50/p99)") }
        }
        for f in shardFigures {
            print(String(format: "  shard %@                    %d Rollouts, caches synced %.2f s, peak RSS %.1f MiB", f.id, f.rollouts, f.synced, f.rss))
        }
        if shards > 1 { print("  shards                         \(shardOverlap) Rollouts handled by more than one, \(shardMissing) by none") }
        print(String(format: "  the whole run                  %.1f min", seconds(ContinuousClock.now - benchStart) / 60))
    }

    struct ChurnFigures {
        var updates: Int
        var p50: Double
        var p99: Double
        var maxDepth: Int
        var errors: Int
        /// Changes whose ReplicaSet was not seen within 2 minutes of the last change (not in p50/p99).
        var unseen: Int
    }

    /// `churnRate` spec changes a second for `churn` seconds, round robin over the Rollouts, each
    /// timed until its new ReplicaSet appears in a watch; the queue depth sampled every second.
    func churnRun(_ client: KubeClient, _ ns: String, _ c: Controller) async throws -> ChurnFigures {
        say("churn: \(churnRate) updates a second for \(churn) s")
        let errorsBefore = try await c.counter("aviary_rollout_reconcile_errors_total")
        // Rollout → (image it was changed to, when).
        let pending = Mutex<[String: (String, ContinuousClock.Instant)]>([:])
        let latencies = Mutex<[Double]>([])
        let additions = ReplicaSetAdditions(), from = try await ReplicaSetAdditions.now(client, ns)
        let watcher = Task {
            try await additions.run(client, ns, from: from) { owner, image in
                let t: ContinuousClock.Instant? = pending.withLock { p in
                    guard let (want, at) = p[owner], want == image else { return nil }
                    p[owner] = nil
                    return at
                }
                if let t { latencies.withLock { $0.append(seconds(ContinuousClock.now - t)) } }
            }
        }
        defer { watcher.cancel() }
        let maxDepth = Mutex(0)
        let sampler = Task {
            while !Task.isCancelled {
                if let d = try? await c.gauge("aviary_workqueue_depth{name=\"rollouts\"}") { maxDepth.withLock { $0 = max($0, Self.count(d)) } }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        defer { sampler.cancel() }
        let total = churn * churnRate
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<total {
                // Paced: the n-th change goes out at n / rate seconds.
                let due = start + .milliseconds(n * 1000 / max(1, churnRate))
                if due > ContinuousClock.now { try await Task.sleep(until: due) }
                let i = n % rollouts, image = "registry.example/app:c\(n)-\(Self.runTag)"
                pending.withLock { $0["app-\(i)"] = (image, ContinuousClock.now) }
                group.addTask { try await Self.setImage(client, ns, i, image) }
            }
            try await group.waitForAll()
        }
        // The last ones' ReplicaSets, then the figures.
        let deadline = ContinuousClock.now + .seconds(120)
        while pending.withLock({ !$0.isEmpty }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
        let sorted = latencies.withLock { $0 }.sorted()
        let errors = try await c.counter("aviary_rollout_reconcile_errors_total") - errorsBefore
        let missing = pending.withLock { $0.count }
        if missing > 0 { say("churn: \(missing) changes saw no new ReplicaSet within 2 minutes") }
        let (resumes, gaps) = (additions.resumes.withLock { $0 }, additions.gaps.withLock { $0 })
        if resumes + gaps > 0 { say("churn: the ReplicaSet watch was resumed \(resumes) times after it ended, and \(gaps) times after a 410 (a gap)") }
        guard !sorted.isEmpty else { return ChurnFigures(updates: total, p50: .nan, p99: .nan, maxDepth: maxDepth.withLock { $0 }, errors: Self.count(errors), unseen: missing) }
        return ChurnFigures(updates: total, p50: sorted[sorted.count / 2], p99: sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))],
                            maxDepth: maxDepth.withLock { $0 }, errors: Self.count(errors), unseen: missing)
    }

    /// Images unique to this run, so a run on a kept cluster makes new ReplicaSets, not ones an earlier run left.
    static let runTag = String(Int(Date().timeIntervalSince1970))
    static let latencyImage = "registry.example/app:3-\(runTag)"

    static func rollout(_ i: Int, image: String) -> JSONValue {
        [
            "apiVersion": "aviary.dev/v1alpha1", "kind": "Rollout",
            "metadata": ["name": .string("app-\(i)")],
            "spec": [
                "replicas": 1,
                "selector": ["matchLabels": ["app": .string("app-\(i)")]],
                "template": ["metadata": ["labels": ["app": .string("app-\(i)")]],
                             "spec": ["containers": [["name": "app", "image": .string(image)]]]],
                "strategy": ["canary": ["steps": [["setWeight": 50]]]],
            ],
        ]
    }

    /// Revision 1 of Rollout `i`, scaled to 0 and owned by it, as the controller
    /// would have left it after an update (its hash label is not a real hash;
    /// the controller only needs it to differ from the live template's).
    static func olderReplicaSet(_ i: Int, rolloutUID: String) -> JSONValue {
        let labels: JSONValue = ["app": .string("app-\(i)"), .init(stringLiteral: podTemplateHashLabel): "seeded0"]
        return [
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": [
                "name": .string("app-\(i)-seeded0"), "labels": labels,
                "annotations": [.init(stringLiteral: revisionAnnotation): "1"],
                "ownerReferences": [["apiVersion": "aviary.dev/v1alpha1", "kind": "Rollout", "name": .string("app-\(i)"),
                                     "uid": .string(rolloutUID), "controller": true, "blockOwnerDeletion": true]],
            ],
            "spec": [
                "replicas": 0,
                "selector": ["matchLabels": labels],
                "template": ["metadata": ["labels": labels],
                             "spec": ["containers": [["name": "app", "image": "registry.example/app:0"]]]],
            ],
        ]
    }

    static func setImage(_ client: KubeClient, _ ns: String, _ i: Int, _ image: String) async throws {
        let _: JSONValue = try await client.patch(Rollout.resource, "app-\(i)", namespace: ns,
                                                  .json([.replace("/spec/template/spec/containers/0/image", .string(image))]))
    }

    /// Patches `updates` Rollouts at once and times each until its new ReplicaSet appears in a watch.
    /// Per Rollout: PATCH sent → its canary ReplicaSet seen on a watch; and the PATCH's own round trip.
    /// (The change exists once its PATCH is answered: the second list starts there, without the benchmark's own write.)
    func changeLatency(_ client: KubeClient, _ ns: String) async throws -> (latencies: [Double], committed: [Double], patches: [Double]) {
        let patchedAt = Mutex<[String: ContinuousClock.Instant]>([:]), answeredAt = Mutex<[String: ContinuousClock.Instant]>([:])
        let createdAt = Mutex<[String: ContinuousClock.Instant]>([:])
        let from = try await ReplicaSetAdditions.now(client, ns)
        let seen = Task {
            try await ReplicaSetAdditions().run(client, ns, from: from) { owner, image in
                guard image == Self.latencyImage, patchedAt.withLock({ $0[owner] }) != nil else { return }
                let now = ContinuousClock.now
                createdAt.withLock { if $0[owner] == nil { $0[owner] = now } }
            }
        }
        defer { seen.cancel() }
        let patches = Mutex<[Double]>([])
        try await forEach(updates) { i in
            let sent = ContinuousClock.now
            patchedAt.withLock { $0["app-\(i)"] = sent }
            try await Self.setImage(client, ns, i, Self.latencyImage)
            let answered = ContinuousClock.now
            answeredAt.withLock { $0["app-\(i)"] = answered }
            patches.withLock { $0.append(seconds(answered - sent)) }
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while createdAt.withLock({ $0.count }) < updates, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        let created = createdAt.withLock { $0 }
        if created.count < updates { say("latency: \(updates - created.count) changes saw no new ReplicaSet within 2 minutes") }
        let sent = patchedAt.withLock { $0 }, answered = answeredAt.withLock { $0 }
        return (created.compactMap { name, at in sent[name].map { seconds(at - $0) } },
                created.compactMap { name, at in answered[name].map { max(0, seconds(at - $0)) } },
                patches.withLock { $0 })
    }

    func waitAll(_ client: KubeClient, _ ns: String, _ what: String, controller c: Controller? = nil, _ done: (Rollout) -> Bool) async throws -> Double {
        let start = ContinuousClock.now
        while true {
            if let c, !c.process.isRunning {
                throw ValidationError("the controller exited (status \(c.process.terminationStatus), reason \(c.process.terminationReason.rawValue)); see \(c.log)")
            }
            let all: ObjectList<Rollout> = try await client.listAll(Rollout.resource, namespace: ns, options: ListOptions(limit: 500))
            let n = all.items.filter(done).count
            if n == rollouts { return seconds(ContinuousClock.now - start) }
            if ContinuousClock.now - start > .seconds(1800) { throw ValidationError("timed out: \(what) (\(n)/\(rollouts))") }
            // Each poll lists every Rollout: at 10,000 that is load on the cluster being measured.
            try await Task.sleep(for: .milliseconds(max(500, rollouts / 2)))
        }
    }
}

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
func say(_ s: String) { FileHandle.standardError.write(Data("[scale] \(s)\n".utf8)) }

func forEach(_ count: Int, _ body: @escaping @Sendable (Int) async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<32 {
            group.addTask { for i in stride(from: worker, to: count, by: 32) { try await body(i) } }
        }
        try await group.waitForAll()
    }
}

/// The controller under test, as a process, observed through /proc and its /metrics.
struct Controller {
    let process = Process()
    let log: String
    let metricsPort: Int
    let started = ContinuousClock.now

    init(binary: String, kubeconfig: String, namespace: String, instanceID: String? = nil) throws {
        metricsPort = Int.random(in: 30_000...39_999)
        log = NSTemporaryDirectory() + "aviary-scale-controller-\(UUID().uuidString.prefix(6)).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["controller", "--kubeconfig", kubeconfig, "--namespace", namespace, "--leader-elect", "false",
                             "--metrics-addr", "127.0.0.1:\(metricsPort)", "--health-addr", "127.0.0.1:0", "--log-format", "text",
                             "--qps", "200", "--burst", "400"] + (instanceID.map { ["--instance-id", $0] } ?? [])
        let handle = FileHandle(forWritingAtPath: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    /// Seconds from start until the log says the caches are synced.
    func syncedAfter() async throws -> Double {
        while true {
            if (try? String(contentsOfFile: log, encoding: .utf8))?.contains("caches synced") == true { return seconds(ContinuousClock.now - started) }
            guard process.isRunning else { throw ValidationError("the controller exited; see \(log)") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func metrics() async throws -> String {
        let r = try await CurlEngine.shared.perform(HTTPRequest(method: "GET", url: "http://127.0.0.1:\(metricsPort)/metrics"))
        return String(decoding: r.body, as: UTF8.self)
    }

    /// API requests so far: all, and writes (anything but GET).
    func writes() async throws -> (total: Int, writes: Int) {
        var total = 0, writes = 0
        for line in try await metrics().split(separator: "\n") where line.hasPrefix("aviary_k8s_request_total{") {
            let n = Int(Double(line.split(separator: " ").last ?? "0") ?? 0)
            total += n
            if !line.contains("verb=\"GET\"") { writes += n }
        }
        return (total, writes)
    }

    /// Waits until the reconcile histogram has counted `n` reconciles and the queue is empty.
    func waitReconciled(atLeast n: Int) async throws {
        while true {
            let text = try await metrics()
            let count = text.split(separator: "\n").first { $0.hasPrefix("aviary_rollout_reconcile_count") }
                .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            let depth = text.split(separator: "\n").first { $0.hasPrefix("aviary_workqueue_depth{name=\"rollouts\"}") }
                .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            if Int(count) >= n, depth == 0 { return }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// One sample's value from /metrics (the first line starting with `series`), 0 when absent.
    func gauge(_ series: String) async throws -> Double {
        try await metrics().split(separator: "\n").first { $0.hasPrefix(series + " ") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    func counter(_ name: String) async throws -> Double { try await gauge(name) }

    /// The Rollouts this controller has in its cache (one `aviary_rollout_info` series each).
    func rolloutNames() async throws -> Set<String> {
        var out = Set<String>()
        for line in try await metrics().split(separator: "\n") where line.hasPrefix("aviary_rollout_info{") {
            if let r = line.range(of: "name=\""), let end = line[r.upperBound...].firstIndex(of: "\"") {
                out.insert(String(line[r.upperBound..<end]))
            }
        }
        return out
    }

    func cpuSeconds() -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8) else { return 0 }
        let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the ")".
        guard fields.count > 13, let u = Double(fields[11]), let s = Double(fields[12]) else { return 0 }
        return (u + s) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func peakRSSMiB() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
        }
        return 0
    }
}

/// The whole machine's CPU time from /proc/stat: how busy every core was over a window.
struct MachineCPU {
    var busy = 0.0, total = 0.0

    static func read() -> MachineCPU {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ") else { return MachineCPU() }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        // user nice system idle iowait irq softirq steal: idle and iowait are the idle ones.
        guard ticks.count >= 5 else { return MachineCPU() }
        let total = ticks.prefix(8).reduce(0, +)
        return MachineCPU(busy: total - ticks[3] - ticks[4], total: total)
    }

    /// The busy fraction between `earlier` and now (0 when nothing could be read).
    func busy(since earlier: MachineCPU) -> Double {
        let total = self.total - earlier.total
        return total > 0 ? (busy - earlier.busy) / total : 0
    }
}
