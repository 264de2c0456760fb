import FlyingFox
import Kube

extension ViewerGate {
    /// `DashboardActions.Identity` in the cluster: the request's own token,
    /// reviewed (or remembered from a review), and a client that impersonates
    /// its owner, so the API server decides each action by the viewer's RBAC.
    public var actionIdentity: DashboardActions.Identity {
        { [self] request in
            let token = AccessPolicy.presentedToken(authorization: request.headers[.authorization], cookie: request.headers[.cookie])
            switch await authenticate(token: token) {
            case .unauthenticated:
                throw DashboardActions.Refused(status: 401, "the API server did not accept this request's token; log in again at /login?token=…")
            case .unavailable(let why):
                throw DashboardActions.Refused(status: 503, why)
            case .viewer(let viewer):
                do {
                    guard let client = try client(for: viewer) else {
                        throw DashboardActions.Refused(status: 503, "this dashboard has no client to act with; it is read-only")
                    }
                    return client
                } catch let error as KubeError {
                    throw DashboardActions.Refused(status: 403, "cannot act as \(String(reflecting: viewer.username)): \(error)")
                }
            }
        }
    }
}
