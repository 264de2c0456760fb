import AviaryAPI
import KubeAPI

/// What a router knows about its route objects: what is wrong with them,
/// what weight they hold, and the JSON patches that make them say what the
/// target wants. Only the fields the router owns are in a patch (weights,
/// the managed routes at the top, subset labels); each patch starts with a
/// `test` of the resourceVersion read, so an edit in between fails it and the
/// next reconcile starts from the edit.
protocol RouteWriter: Sendable {
    /// Missing objects, routes, destinations, backendRefs: InvalidSpec messages naming the field.
    func problems(_ view: RolloutView) -> [String]
    /// The canary weight the objects hold now; nil when they cannot be read.
    func heldWeight(_ view: RolloutView) -> Int?
    /// The patches that put `weight` on the canary (the rest on stable), the
    /// target's managed routes on top, and the hashes on the subsets.
    func patches(weight: Int, target: TrafficTarget, hashes: RouteHashes, _ view: RolloutView) -> [(RouteRef, [JSONPatchOperation])]
    /// How `get` and messages name the router.
    var summary: String { get }
}

/// Which pods each side of a route is: for subset-level routing, the labels the subsets get.
struct RouteHashes: Equatable {
    var canary: String?
    var stable: String?
    /// The canary subset moves to a new hash only once that ReplicaSet is fully available.
    var canaryReady: Bool
}

/// The patch for one object: nothing when nothing changes, else the version test first.
func patch(_ object: JSONValue, _ ops: [JSONPatchOperation]) -> [JSONPatchOperation] {
    guard !ops.isEmpty else { return [] }
    let version = object["metadata"]?["resourceVersion"] ?? .null
    return [.test("/metadata/resourceVersion", version)] + ops
}
