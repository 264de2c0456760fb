import AviaryAPI
import KubeAPI
import Testing
@testable import Rollouts

/// A tiny in-memory cluster for the planner: it applies plans the way the
/// executor and the ReplicaSet controller would, with pods becoming available
/// only when `tick()` says so. Scale-downs remove pods at once.
struct World {
    var rollout: Rollout
    var replicaSets: [String: ReplicaSet] = [:]
    var services: [String: Service] = [:]
    var now = KubeTime(secondsSinceEpoch: 1_800_000_000)
    var events: [String] = []
    var pods: [Pod] = []
    var deletedPods: [String] = []
    var lastPlan: Plan?
    var analysisRuns: [String: AnalysisRun] = [:]
    var templates = TemplateCatalog()
    /// Route objects (VirtualService, DestinationRule, HTTPRoute), patched as the API server would.
    var routes: [RouteRef: JSONValue] = [:]
    /// Route patches the "server" refused (a failed test of the resourceVersion).
    var refusedRoutePatches = 0
    /// Checked after every applied plan: available pods never below this.
    var minAvailable: Int?
    /// Checked after every applied plan: no Service selects a ReplicaSet without available pods
    /// (meaningless for a Rollout of 0 replicas).
    var checkServices = true
    /// With configuration tracking on in the "controller": the namespace's ConfigMaps and Secrets (nil: not tracking).
    var configs: [ConfigObjectRef: ConfigSource]?
    /// Snapshots made, as the cache would hold them.
    var snapshots: [ConfigObjectRef: ConfigSource] = [:]

    init(replicas: Int = 10, steps: [CanaryStep], maxSurge: IntOrString? = "25%", maxUnavailable: IntOrString? = 0,
         services: Bool = true, image: String = "web:1") {
        var canary = CanaryStrategy(steps: steps, canaryService: services ? "web-canary" : nil, stableService: services ? "web-stable" : nil,
                                    maxSurge: maxSurge, maxUnavailable: maxUnavailable)
        canary.abortScaleDownDelaySeconds = 30
        var spec = RolloutSpec(replicas: replicas, selector: LabelSelector(matchLabels: ["app": "web"]), template: World.template(image),
                               strategy: RolloutStrategy(canary: canary))
        spec.progressDeadlineSeconds = 600
        var meta = ObjectMeta(name: "web", namespace: "default")
        meta.uid = "uid-web"
        meta.generation = 1
        rollout = Rollout(metadata: meta, spec: spec)
        if services {
            for name in ["web-canary", "web-stable"] {
                self.services[name] = Service(metadata: ObjectMeta(name: name, namespace: "default"), spec: .init(selector: ["app": "web"]))
            }
        }
        let surge = (try? (maxSurge ?? "25%").scaled(total: replicas, roundUp: true)) ?? 0
        _ = surge
        minAvailable = replicas - ((try? (maxUnavailable ?? "25%").scaled(total: replicas, roundUp: false)) ?? 0)
    }

    /// A blue-green Rollout with Services web-active and web-preview.
    static func blueGreen(replicas: Int = 4, _ configure: (inout BlueGreenStrategy) -> Void = { _ in }) -> World {
        var w = World(replicas: replicas, steps: [], services: false)
        var bg = BlueGreenStrategy(activeService: "web-active", previewService: "web-preview")
        configure(&bg)
        w.rollout.spec.strategy = RolloutStrategy(blueGreen: bg)
        for name in ["web-active", "web-preview"] {
            w.services[name] = Service(metadata: ObjectMeta(name: name, namespace: "default"), spec: .init(selector: ["app": "web"]))
        }
        w.minAvailable = replicas
        return w
    }

    func selector(_ service: String) -> String? { services[service]?.spec?.selector?[podTemplateHashLabel] }

    static func template(_ image: String) -> JSONValue {
        ["metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "web", "image": .string(image)]]]]
    }

    mutating func setImage(_ image: String) {
        rollout.spec.template = World.template(image)
        rollout.metadata.generation = (rollout.metadata.generation ?? 1) + 1
    }

    /// The planner sees ReplicaSets as the controller's cache keeps them (`CachedReplicaSet`); the world keeps them whole.
    var compactCache = true

    var view: RolloutView {
        let sets = replicaSets.values.sorted { $0.metadata.name! < $1.metadata.name! }
        return RolloutView(rollout: rollout, replicaSets: compactCache ? sets.map(CachedReplicaSet.compact) : sets, services: services,
                    pods: pods, analysisRuns: analysisRuns.values.sorted { $0.metadata.name! < $1.metadata.name! },
                    templates: templates, routes: routes, now: now,
                    config: configs.map { ConfigView(objects: $0, snapshots: snapshots.values.sorted { $0.ref < $1.ref }) })
    }

    @discardableResult
    mutating func reconcile() -> Plan {
        let plan = RolloutPlanner.plan(view)
        lastPlan = plan
        apply(plan)
        return plan
    }

    mutating func apply(_ plan: Plan) {
        for action in plan.actions {
            switch action {
            case .createReplicaSet(var rs):
                rs.status = .init(replicas: 0, readyReplicas: 0, availableReplicas: 0)
                rs.metadata.uid = "uid-\(rs.metadata.name!)"
                replicaSets[rs.metadata.name!] = rs
            case .scaleReplicaSet(let name, let size):
                replicaSets[name]?.spec.replicas = size
                if let avail = replicaSets[name]?.status?.availableReplicas, avail > size {
                    replicaSets[name]?.status = .init(replicas: size, readyReplicas: size, availableReplicas: size)
                }
            case .adoptReplicaSet(let name, let owner):
                replicaSets[name]?.metadata.ownerReferences = [owner]
            case .annotateReplicaSet(let name, let annotations):
                for (k, v) in annotations { replicaSets[name]?.metadata.annotations?[k] = v }
            case .deleteReplicaSet(let name):
                replicaSets[name] = nil
                // The garbage collector: a snapshot whose owners are all gone goes too.
                for (ref, snapshot) in snapshots where !snapshot.ownerReferences.isEmpty {
                    let left = snapshot.ownerReferences.filter { o in
                        o.kind != "ReplicaSet" || replicaSets.values.contains { $0.metadata.uid == o.uid }
                    }
                    if left.isEmpty { snapshots[ref] = nil }
                }
            case .deletePod(let name):
                deletedPods.append(name)
            case .setPodMetadata(let rsName, _, let labels, _):
                if case .object(var t)? = replicaSets[rsName]?.spec.template, case .object(var m) = t["metadata"] ?? [:],
                   case .object(var l) = m["labels"] ?? [:] {
                    for (k, v) in labels { l[k] = v.map(JSONValue.string) }
                    m["labels"] = .object(l)
                    t["metadata"] = .object(m)
                    replicaSets[rsName]?.spec.template = .object(t)
                }
            case .switchService(let name, let hash):
                services[name]?.spec?.selector?[podTemplateHashLabel] = hash
            case .patchRoute(let ref, let ops):
                guard let object = routes[ref] else { refusedRoutePatches += 1; continue }
                do {
                    var patched = try object.applying(ops)
                    // The server bumps the resourceVersion on every write.
                    let version = Int(object["metadata"]?["resourceVersion"]?.stringValue ?? "0") ?? 0
                    patched = patched.setting(["metadata", "resourceVersion"], to: .string(String(version + 1)))
                    routes[ref] = patched
                } catch {
                    refusedRoutePatches += 1
                }
            case .createAnalysisRun(var run):
                run.metadata.creationTimestamp = now
                analysisRuns[run.metadata.name!] = run
            case .terminateAnalysisRun(let name):
                analysisRuns[name]?.spec.terminate = true
            case .deleteAnalysisRun(let name):
                analysisRuns[name] = nil
            case .createConfigSnapshot(let spec):
                let made = ConfigSource(ref: spec.ref, uid: "uid-\(spec.name)", digest: configs?[spec.source]?.digest ?? spec.digest,
                                        creationTimestamp: now, snapshotOf: spec.source.name,
                                        snapshotRollout: spec.rollout, snapshotDigest: spec.digest, ownerReferences: spec.owners)
                if snapshots[spec.ref] == nil { snapshots[spec.ref] = made }
            case .setConfigSnapshotOwners(let ref, let owners):
                snapshots[ref]?.ownerReferences = owners
            case .deleteConfigSnapshot(let ref):
                snapshots[ref] = nil
            case .event(let e):
                events.append(e.reason.rawValue)
            }
        }
        rollout.status = plan.status
        checkInvariants()
    }

    func checkInvariants() {
        if let minAvailable, hasStable {
            let available = replicaSets.values.reduce(0) { $0 + ($1.status?.availableReplicas ?? 0) }
            #expect(available >= minAvailable, "available pods fell to \(available), below \(minAvailable)")
        }
        for (name, svc) in services where checkServices && rollout.spec.effectiveReplicas > 0 {
            guard let hash = svc.spec?.selector?[podTemplateHashLabel] else { continue }
            let target = replicaSets.values.first { $0.podTemplateHash == hash }
            #expect((target?.status?.availableReplicas ?? 0) > 0, "service \(name) selects \(hash), which has no available pods")
        }
        checkRoutes()
    }

    /// Under a router: no route sends weight to a Service whose pods are not available.
    func checkRoutes() {
        for (ref, object) in routes where ref.kind == .virtualService {
            for route in object["spec"]?["http"]?.arrayValue ?? [] {
                for dest in route["route"]?.arrayValue ?? [] where (dest["weight"]?.intValue ?? 100) > 0 {
                    guard let host = dest["destination"]?["host"]?.stringValue, dest["destination"]?["subset"] == nil,
                          let hash = services[host]?.spec?.selector?[podTemplateHashLabel] else { continue }
                    let target = replicaSets.values.first { $0.podTemplateHash == hash }
                    #expect((target?.status?.availableReplicas ?? 0) > 0, "\(ref) sends weight to \(host) (\(hash)) with no available pods")
                }
            }
        }
    }

    var hasStable: Bool {
        guard let stable = rollout.status?.stableRS else { return false }
        return (replicaSets.values.first { $0.podTemplateHash == stable }?.status?.availableReplicas ?? 0) > 0
    }

    /// Pods of every ReplicaSet become available.
    mutating func tick() {
        for (name, rs) in replicaSets {
            let n = rs.desiredReplicas
            replicaSets[name]?.status = .init(replicas: n, readyReplicas: n, availableReplicas: n)
        }
    }

    /// Reconciles and lets pods come up until nothing changes any more.
    mutating func settle(rounds: Int = 60) {
        for _ in 0..<rounds {
            let allAvailable = replicaSets.values.allSatisfy { ($0.status?.availableReplicas ?? 0) == $0.desiredReplicas }
            let before = rollout.status
            let plan = reconcile()
            tick()
            let quiet = plan.actions.allSatisfy { if case .event = $0 { return true } else { return false } }
            if quiet, allAvailable, before == rollout.status { return }
        }
    }

    mutating func advance(_ seconds: Int64) {
        now = KubeTime(secondsSinceEpoch: now.secondsSinceEpoch + seconds)
    }

    func size(_ image: String) -> Int {
        let hash = PodTemplateHash.compute(World.template(image))
        return replicaSets.values.first { $0.podTemplateHash == hash }?.desiredReplicas ?? -1
    }

    func hash(_ image: String) -> String { PodTemplateHash.compute(World.template(image)) }

    var status: RolloutStatus { rollout.status ?? RolloutStatus() }

    /// What the runner would have written: a run ends in `phase`, with `message`.
    mutating func finishRun(_ name: String, _ phase: AnalysisPhase, message: String? = nil) {
        var status = AnalysisRunStatus()
        status.phase = phase
        status.message = message
        analysisRuns[name]?.status = status
    }
}
