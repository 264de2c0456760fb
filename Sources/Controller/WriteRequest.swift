import Foundation
import AviaryAPI
import Kube
import Rollouts

/// One write to the API server, as a value: what the `Executor` sends for an
/// action. Built by pure functions (`Executor.requests(for:namespace:)`), so
/// what each action does on the wire is tested without a server.
public struct WriteRequest: Sendable, Equatable {
    public enum Verb: Sendable, Equatable {
        /// POST the object.
        case create(JSONValue)
        /// PATCH with an RFC 7386 merge patch.
        case mergePatch(JSONValue)
        /// PATCH with RFC 6902 operations (only the fields named change).
        case jsonPatch([JSONPatchOperation])
        /// DELETE, with this propagation policy (nil: the server's default).
        case delete(propagation: DeleteOptions.Propagation?)
    }

    /// An answer that means the work is done already: not an error, since
    /// every action is safe to repeat (a stale cache may plan one twice).
    public enum Tolerated: Sendable, Equatable {
        /// 409 AlreadyExists, for a create.
        case alreadyExists
        /// 404, for a delete or a change of something that is gone.
        case notFound
    }

    /// The informer cache that takes the API's answer at once, so the next
    /// reconcile sees this write even before the watch reports it.
    public enum Answer: Sendable, Equatable {
        case replicaSet, service, rollout, analysisRun
        /// A pod just deleted: it leaves the cache (or is kept as deleting), so
        /// the next reconcile does not delete it again before the watch says so.
        case deletedPod
        /// A route object of this kind (kept whole).
        case route(RouteKind)
        /// A configuration snapshot (a ConfigMap or Secret, kept as its digest).
        case config(ConfigKind)
    }

    public var verb: Verb
    public var resource: Resource
    public var namespace: String?
    /// nil for a create.
    public var name: String?
    public var subresource: String?
    public var tolerated: Tolerated?
    /// nil: the answer is not kept.
    public var answer: Answer?

    public init(_ verb: Verb, _ resource: Resource, namespace: String?, name: String? = nil, subresource: String? = nil,
                tolerated: Tolerated? = nil, answer: Answer? = nil) {
        self.verb = verb
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.subresource = subresource
        self.tolerated = tolerated
        self.answer = answer
    }

    /// The HTTP method.
    public var method: String {
        switch verb {
        case .create: "POST"
        case .mergePatch, .jsonPatch: "PATCH"
        case .delete: "DELETE"
        }
    }

    /// The request path (a create posts to the collection).
    public var path: String {
        resource.path(namespace: namespace, name: verb.isCreate ? nil : name, subresource: subresource)
    }

    /// The body and its content type, as `KubeClient`'s verbs send them.
    public func body() throws -> (data: Data, contentType: String) {
        switch verb {
        case .create(let object):
            return (try JSONEncoder().encode(object), "application/json")
        case .mergePatch(let patch):
            return (try JSONEncoder().encode(patch), Patch.merge(patch).contentType)
        case .jsonPatch(let ops):
            return (try JSONEncoder().encode(ops), Patch.json(ops).contentType)
        case .delete(let propagation):
            return (try JSONEncoder().encode(DeleteOptions(propagationPolicy: propagation)), "application/json")
        }
    }

    /// Whether this failure means the work is already done.
    func tolerates(_ error: any Error) -> Bool {
        guard let e = error as? KubeError else { return false }
        switch tolerated {
        case .alreadyExists?: return e.isAlreadyExists
        case .notFound?: return e.isNotFound
        case nil: return false
        }
    }
}

extension WriteRequest {
    /// Whether this failure is a JSON patch's `test` op that did not hold: the
    /// object changed since it was read (the API server answers 422, not 409).
    /// Like a 409, it means "plan again from fresh state", not a fault.
    func failedTest(_ error: any Error) -> Bool {
        guard case .jsonPatch(let ops) = verb, ops.contains(where: { $0.op == "test" }),
              let e = error as? KubeError, e.code == 422 else { return false }
        // A schema violation names the object and its fields ("VirtualService.networking.istio.io "web" is invalid: …").
        // A patch that does not apply gets the generic answer (1.20: no details at all), or, where the server passes
        // json-patch's error on, "testing value /metadata/resourceVersion failed: test failed".
        let status = e.status
        let message = status?.message ?? ""
        let generic = message == "the server rejected our request due to an error in our request"
            && status?.details?.name == nil && (status?.details?.causes ?? []).allSatisfy { $0.field == nil }
        return generic || message.contains("test failed") || message.contains("testing value")
    }
}

/// A write refused because what it was planned from is stale (a JSON patch's
/// failed `test`): the reconcile is repeated from fresh state, quietly.
public struct StaleWrite: Error, CustomStringConvertible {
    public var path: String
    public var description: String { "\(path) changed since it was read (a JSON patch test failed)" }
}

extension Error {
    /// A 409 Conflict or a failed JSON patch test: retried from fresh state, not reported as a failure.
    var isStaleWrite: Bool { (self as? KubeError)?.isConflict == true || self is StaleWrite || self is ConfigSourceChanged }
}

extension WriteRequest.Verb {
    var isCreate: Bool {
        if case .create = self { return true }
        return false
    }
}
