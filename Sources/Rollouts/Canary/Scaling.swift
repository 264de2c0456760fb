/// Moves ReplicaSet sizes toward a target split without breaking the
/// rollout's bounds: never more than replicas + maxSurge pods in total, never
/// fewer than replicas − maxUnavailable available. Old ReplicaSets drain first,
/// oldest first; pods that are not available may always go, since removing them
/// costs no availability.
public struct ScalingInput: Sendable, Equatable {
    public struct Current: Sendable, Equatable {
        public var name: String
        public var replicas: Int
        public var available: Int

        public init(name: String, replicas: Int, available: Int) {
            self.name = name
            self.replicas = replicas
            self.available = available
        }
    }

    public var replicas: Int
    public var maxSurge: Int
    public var maxUnavailable: Int
    public var canary: Current?
    public var stable: Current?
    /// ReplicaSets with no role any more, oldest first.
    public var others: [Current]

    public init(replicas: Int, maxSurge: Int, maxUnavailable: Int, canary: Current?, stable: Current?, others: [Current]) {
        self.replicas = replicas
        self.maxSurge = maxSurge
        self.maxUnavailable = maxUnavailable
        self.canary = canary
        self.stable = stable
        self.others = others
    }
}

public enum Scaling {
    /// New sizes by ReplicaSet name, for those that change.
    public static func step(_ input: ScalingInput, target: ReplicaSplit) -> [String: Int] {
        var sizes: [String: Int] = [:]
        var all: [ScalingInput.Current] = input.others
        if let s = input.stable { all.append(s) }
        if let c = input.canary, c.name != input.stable?.name { all.append(c) }
        for rs in all { sizes[rs.name] = rs.replicas }
        func desired(_ name: String) -> Int {
            if name == input.canary?.name { return target.canary }
            if name == input.stable?.name { return target.stable }
            return 0
        }

        // Scale up within the surge budget. A split that itself needs a surge pod gets it.
        let maxTotal = max(input.replicas + input.maxSurge, target.total)
        for rs in all.reversed() where desired(rs.name) > rs.replicas {
            let room = maxTotal - sizes.values.reduce(0, +)
            if room > 0 { sizes[rs.name] = rs.replicas + min(room, desired(rs.name) - rs.replicas) }
        }

        // Scale down within the availability budget.
        let minAvailable = max(0, input.replicas - input.maxUnavailable)
        var budget = all.reduce(0) { $0 + min($1.available, $1.replicas) } - minAvailable
        for rs in all where desired(rs.name) < rs.replicas {
            let excess = rs.replicas - desired(rs.name)
            let unavailable = max(0, rs.replicas - rs.available)
            let free = min(excess, unavailable)
            let paid = min(excess - free, max(0, budget))
            budget -= paid
            sizes[rs.name] = rs.replicas - free - paid
        }
        return sizes.filter { name, size in all.first { $0.name == name }?.replicas != size }
    }
}
