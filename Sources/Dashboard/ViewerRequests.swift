import FlyingFox
import Foundation

/// In-cluster mode's part of a request: whose token it carries, and what
/// they may read; and `/login?token=`, which sets the cookie only for a
/// token the API server accepts.
extension DashboardServer {
    enum Scope {
        /// Not in-cluster: the API over everything this process watches.
        case everything
        case viewer(Viewer, DashboardAPI)
        case refusal(HTTPResponse)

        var api: DashboardAPI? { if case .viewer(_, let api) = self { api } else { nil } }
        var viewer: Viewer? { if case .viewer(let v, _) = self { v } else { nil } }
    }

    func viewerScope(_ request: HTTPRequest) async -> Scope {
        guard let gate = options.viewers else { return .everything }
        let token = AccessPolicy.presentedToken(authorization: request.headers[.authorization], cookie: request.headers[.cookie])
        switch await gate.authenticate(token: token) {
        case .unauthenticated:
            return .refusal(kubernetesTokenNeeded("The API server did not accept this token"))
        case .unavailable(let why):
            return .refusal(json(DashboardAPI.error(503, why), head: false))
        case .viewer(let viewer):
            // Reviewed only for the namespaces this request reads: all those with Rollouts for the list, one for a Rollout.
            let source = api.source
            var wanted: Set<String> = []
            if request.path == "/api/rollouts" {
                wanted = Set(source.rollouts().compactMap(\.metadata.namespace))
            } else if request.path.hasPrefix("/api/rollouts/"),
                      let ns = request.path.dropFirst("/api/rollouts/".count).split(separator: "/").first {
                wanted = [String(ns)]
            }
            let readable = wanted.isEmpty ? [] : await gate.readable(viewer, namespaces: wanted)
            return .viewer(viewer, DashboardAPI(source: ViewerSource(base: source, namespaces: readable, viewer: viewer)))
        }
    }

    /// 401 for a missing or refused Kubernetes token, saying how to present one.
    func kubernetesTokenNeeded(_ what: String) -> HTTPResponse {
        page(401, "Kubernetes token needed",
             "\(what). This dashboard shows what your own Kubernetes identity may read: open <code>/login?token=TOKEN</code> once "
                 + "with your bearer token (e.g. <code>kubectl create token NAME</code> for a ServiceAccount, or your OIDC id-token; it sets a cookie), "
                 + "or send <code>Authorization: Bearer TOKEN</code>.", head: false,
             extra: [HTTPHeader("WWW-Authenticate"): "Bearer realm=\"aviary-dashboard\""])
    }

    /// `/login?token=…` in-cluster: a token the API server accepts becomes the cookie (HttpOnly, SameSite=Strict).
    func reviewedLogin(_ request: HTTPRequest) async -> HTTPResponse {
        guard let gate = options.viewers else { return kubernetesTokenNeeded("No reviewer") }
        let presented = (request.query.first { $0.name == "token" }?.value ?? "").trimmingCharacters(in: .whitespaces)
        // Cookie-safe bytes only: a token with ';' or ',' could not come back intact.
        guard !presented.isEmpty, presented.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != ";" && $0 != "," && $0 != "\"" }) else {
            return kubernetesTokenNeeded("That is not a bearer token")
        }
        switch await gate.authenticate(token: presented) {
        case .unauthenticated:
            return kubernetesTokenNeeded("The API server did not accept that token")
        case .unavailable(let why):
            return json(DashboardAPI.error(503, why), head: false)
        case .viewer:
            var headers = Self.securityHeaders
            headers[.location] = "/"
            headers[.cacheControl] = "no-store"
            headers[.setCookie] = "\(AccessPolicy.cookieName)=\(presented); Path=/; HttpOnly; SameSite=Strict"
            return HTTPResponse(statusCode: HTTPStatusCode(303, phrase: "See Other"), headers: headers)
        }
    }
}
