import AviaryAPI
import KubeAPI

/// What the canary's step machine asks of traffic at one moment. The step
/// machine only says *what*; a `TrafficRouting` says how the world gets
/// there and when it has.
public struct TrafficTarget: Equatable, Sendable {
    /// The canary's share of traffic, in percent.
    public var weight: Int
    /// Pods on each side.
    public var split: ReplicaSplit
    /// After an abort the canary Service goes back to stable's pods too.
    public var canaryServiceOnStable: Bool
    /// Under a router: header routes in force (setHeaderRoute steps so far), by name.
    public var headerRoutes: [SetHeaderRoute]
    /// Under a router: mirror routes in force (setMirrorRoute steps so far), by name.
    public var mirrorRoutes: [SetMirrorRoute]

    public init(weight: Int, split: ReplicaSplit, canaryServiceOnStable: Bool = false,
                headerRoutes: [SetHeaderRoute] = [], mirrorRoutes: [SetMirrorRoute] = []) {
        self.weight = weight
        self.split = split
        self.canaryServiceOnStable = canaryServiceOnStable
        self.headerRoutes = headerRoutes
        self.mirrorRoutes = mirrorRoutes
    }

    /// The managed routes' names in force.
    public var managedRouteNames: [String] { headerRoutes.map(\.name) + mirrorRoutes.map(\.name) }
}

/// How traffic is moved: by pod counts and Service selectors today
/// (`ReplicaTraffic`); a mesh or gateway router implements the same three
/// verbs, and the step machine does not change.
protocol TrafficRouting {
    /// Moves the world toward `target` (sizes, routes) and records the weights in the status.
    func move(to target: TrafficTarget, canary: ReplicaSet?, stable: ReplicaSet, _ r: inout Reconcile)
    /// True once the world is at `target`: a setWeight or setCanaryScale step is then done.
    func reached(_ target: TrafficTarget, canary: ReplicaSet, stable: ReplicaSet, _ r: Reconcile) -> Bool
    /// Everything to `rs`, which is (or is about to be) stable: after a promotion, or settled.
    func settle(on rs: ReplicaSet, _ r: inout Reconcile)
}

extension Reconcile {
    /// status.canary.weights, in Argo's shape.
    mutating func setWeights(canary: Int, _ canaryHash: String?, stable: Int, _ stableHash: String?,
                             services: (canary: String?, stable: String?) = (nil, nil), verified: Bool? = nil) {
        let weights = CanaryStatus.Weights(canary: .init(weight: canary, podTemplateHash: canaryHash, serviceName: services.canary),
                                           stable: .init(weight: stable, podTemplateHash: stableHash, serviceName: services.stable),
                                           verified: verified)
        if status.canary == nil { status.canary = CanaryStatus(weights: weights) } else { status.canary?.weights = weights }
    }
}
