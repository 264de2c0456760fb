import Foundation
import Kube

/// In-cluster mode: every request carries its viewer's own Kubernetes
/// token, the API server says whose it is (TokenReview) and which
/// namespaces' Rollouts they may list (SubjectAccessReview), and the
/// dashboard shows only those. Answers are remembered for `lifetime`
/// (30 s), keyed by the token's SHA-256 and by user and namespace, never by
/// the token itself, in bounded caches.
public final class ViewerGate: Sendable {
    public enum Outcome: Sendable, Equatable {
        case viewer(Viewer)
        /// No token, one the API server does not accept, or one too long to be a token.
        case unauthenticated
        /// The API server could not be asked: try again.
        case unavailable(String)
    }

    struct AccessKey: Hashable, Sendable {
        var viewer: Viewer
        var namespace: String
    }

    /// Longer than any real bearer token (a ServiceAccount JWT is 1–2 KB); longer ones are not sent for review.
    static let maxTokenBytes = 8_192

    let authority: any ViewerAuthority
    let tokens: ExpiringCache<String, Viewer>
    let access: ExpiringCache<AccessKey, Bool>
    /// The dashboard's own client, which `client(for:)` derives impersonating clients from.
    let client: KubeClient?

    public init(authority: any ViewerAuthority, client: KubeClient? = nil, lifetime: Duration = .seconds(30),
                tokenCapacity: Int = 1_000, accessCapacity: Int = 10_000) {
        self.authority = authority
        self.client = client
        tokens = ExpiringCache(lifetime: lifetime, capacity: tokenCapacity)
        access = ExpiringCache(lifetime: lifetime, capacity: accessCapacity)
    }

    /// The reviewing gate for a dashboard whose own identity is `client`.
    public convenience init(client: KubeClient) {
        self.init(authority: KubeViewerAuthority(client: client), client: client)
    }

    /// The cache key for a token: its SHA-256, so the token itself is never kept.
    static func key(_ token: String) -> String { SHA256.hex(token) }

    /// Who presented `token`. A positive answer is remembered; a refusal is not (a new token may be accepted a moment later).
    public func authenticate(token: String?) async -> Outcome {
        guard let token, !token.isEmpty, token.utf8.count <= Self.maxTokenBytes,
              token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else { return .unauthenticated }
        let key = Self.key(token)
        if let viewer = tokens.get(key) { return .viewer(viewer) }
        do {
            guard let viewer = try await authority.review(token: token) else { return .unauthenticated }
            tokens.set(key, viewer)
            return .viewer(viewer)
        } catch {
            return .unavailable("the API server could not review the token (\(error)); reload in a moment")
        }
    }

    /// Whether `viewer` may list Rollouts in `namespace`: everywhere (one cluster-wide review) or there.
    /// A review that fails counts as no, and is not remembered.
    public func mayRead(_ viewer: Viewer, namespace: String) async -> Bool {
        if await allowed(viewer, "") { return true }
        return namespace.isEmpty ? false : await allowed(viewer, namespace)
    }

    /// The namespaces among `namespaces` whose Rollouts `viewer` may list.
    public func readable(_ viewer: Viewer, namespaces: Set<String>) async -> Set<String> {
        if await allowed(viewer, "") { return namespaces }
        return await withTaskGroup(of: String?.self) { group in
            for ns in namespaces where !ns.isEmpty {
                group.addTask { await self.allowed(viewer, ns) ? ns : nil }
            }
            var result: Set<String> = []
            for await ns in group { if let ns { result.insert(ns) } }
            return result
        }
    }

    func allowed(_ viewer: Viewer, _ namespace: String) async -> Bool {
        let key = AccessKey(viewer: viewer, namespace: namespace)
        if let known = access.get(key) { return known }
        guard let answer = try? await authority.mayListRollouts(viewer, namespace: namespace) else { return false }
        access.set(key, answer)
        return answer
    }

    /// For actions: a client that acts as `viewer` (Impersonate-User and
    /// -Group), so the API server applies the viewer's own RBAC to every
    /// write. The dashboard's ServiceAccount needs `impersonate` on users and
    /// groups (deploy/dashboard/with-actions). nil without a client.
    public func client(for viewer: Viewer) throws -> KubeClient? {
        try client?.impersonating(user: viewer.username, groups: viewer.groups)
    }
}
