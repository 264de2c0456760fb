import Kube

/// A `coordination.k8s.io/v1` Lease: who leads, and until when.
struct Lease: KubeObject {
    var apiVersion: String? = "coordination.k8s.io/v1"
    var kind: String? = "Lease"
    var metadata: ObjectMeta
    var spec: Spec?

    struct Spec: Codable, Sendable, Equatable {
        var holderIdentity: String?
        var leaseDurationSeconds: Int?
        var acquireTime: MicroTime?
        var renewTime: MicroTime?
        var leaseTransitions: Int?
    }
}
