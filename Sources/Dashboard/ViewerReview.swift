import Foundation
import Kube

/// A person (or ServiceAccount) the API server vouched for: what a
/// TokenReview answers, and what a SubjectAccessReview asks about.
public struct Viewer: Sendable, Hashable {
    public var username: String
    public var uid: String
    public var groups: [String]

    public init(username: String, uid: String = "", groups: [String] = []) {
        self.username = username
        self.uid = uid
        self.groups = groups
    }
}

/// Asks the API server who a token belongs to and what its owner may read.
/// A protocol so the in-cluster rules are unit-tested without a cluster.
public protocol ViewerAuthority: Sendable {
    /// The token's owner, or nil when the API server does not accept the token.
    /// Throws when the API server could not be asked.
    func review(token: String) async throws -> Viewer?
    /// Whether `viewer` may list rollouts.aviary.dev in `namespace` ("" for every namespace).
    func mayListRollouts(_ viewer: Viewer, namespace: String) async throws -> Bool
}

/// `authentication.k8s.io/v1` TokenReview and `authorization.k8s.io/v1`
/// SubjectAccessReview, sent as the dashboard's own ServiceAccount (which
/// needs `create` on both; deploy/dashboard grants it).
public struct KubeViewerAuthority: ViewerAuthority {
    let client: KubeClient

    public init(client: KubeClient) { self.client = client }

    static let tokenReviews = Resource(group: "authentication.k8s.io", version: "v1", plural: "tokenreviews", namespaced: false)
    static let accessReviews = Resource(group: "authorization.k8s.io", version: "v1", plural: "subjectaccessreviews", namespaced: false)

    struct TokenReview: Codable, Sendable {
        struct Spec: Codable, Sendable { var token: String }
        struct User: Codable, Sendable { var username: String?; var uid: String?; var groups: [String]? }
        struct Status: Codable, Sendable { var authenticated: Bool?; var user: User?; var error: String? }
        var apiVersion = "authentication.k8s.io/v1"
        var kind = "TokenReview"
        var spec: Spec
        var status: Status?
    }

    struct AccessReview: Codable, Sendable {
        struct Attributes: Codable, Sendable {
            var namespace: String
            var verb = "list"
            var group = "aviary.dev"
            var resource = "rollouts"
        }
        struct Spec: Codable, Sendable { var resourceAttributes: Attributes; var user: String; var uid: String?; var groups: [String] }
        struct Status: Codable, Sendable { var allowed: Bool?; var denied: Bool? }
        var apiVersion = "authorization.k8s.io/v1"
        var kind = "SubjectAccessReview"
        var spec: Spec
        var status: Status?
    }

    public func review(token: String) async throws -> Viewer? {
        let answer = try await client.create(Self.tokenReviews, TokenReview(spec: .init(token: token)))
        guard let status = answer.status, status.authenticated == true, let user = status.user,
              let name = user.username, !name.isEmpty else { return nil }
        return Viewer(username: name, uid: user.uid ?? "", groups: user.groups ?? [])
    }

    public func mayListRollouts(_ viewer: Viewer, namespace: String) async throws -> Bool {
        let spec = AccessReview.Spec(resourceAttributes: .init(namespace: namespace), user: viewer.username,
                                     uid: viewer.uid.isEmpty ? nil : viewer.uid, groups: viewer.groups)
        let answer = try await client.create(Self.accessReviews, AccessReview(spec: spec))
        return answer.status?.allowed == true && answer.status?.denied != true
    }
}
