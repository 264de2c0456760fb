import Controller
import FlyingFox
import FlyingSocks
import Foundation
import Logging
import Synchronization

/// The dashboard's HTTP server (FlyingFox, as the controller's endpoints):
/// the page, the JSON API and the event stream, behind `AccessPolicy`.
/// Read-only: nothing here writes to the cluster.
public final class DashboardServer: Sendable {
    public struct Options: Sendable {
        /// An IP literal or `localhost`.
        public var address: String
        /// 0: any free port (tests).
        public var port: UInt16
        public var token: String?
        /// In-cluster mode: each viewer's own Kubernetes token, reviewed by the API server (`ViewerGate`); nil otherwise.
        public var viewers: ViewerGate? = nil
        /// `--allow-actions`: the page's writes (`DashboardActions`); nil: read-only, every write refused (405).
        public var actions: DashboardActions? = nil

        public init(address: String = "127.0.0.1", port: UInt16 = 3100, token: String? = nil) {
            self.address = address
            self.port = port
            self.token = token
        }
    }

    let options: Options
    let api: DashboardAPI
    let feed: ChangeFeed
    let logger: Logger
    /// The port is known once bound (with port 0 the system picks it), and the Host rule needs it.
    let policy: Mutex<AccessPolicy>
    private let bound = Mutex<UInt16?>(nil)

    public init(options: Options, source: any DashboardSource, feed: ChangeFeed, logger: Logger) {
        self.options = options
        self.api = DashboardAPI(source: source)
        self.feed = feed
        self.logger = logger
        var policy = AccessPolicy(address: options.address, port: options.port, token: options.token)
        policy.reviewsTokens = options.viewers != nil
        policy.allowsActions = options.actions != nil
        self.policy = Mutex(policy)
    }

    /// The port listened on, once listening.
    public var port: UInt16? { bound.withLock { $0 } }

    /// Serves until cancelled; `listening` is told the port once bound.
    public func run(listening: @escaping @Sendable (UInt16) -> Void = { _ in }) async throws {
        let host = options.address == "localhost" ? "127.0.0.1" : options.address
        let socketAddress: any SocketAddress
        if AccessPolicy.isIPv4(host) {
            socketAddress = try sockaddr_in.inet(ip4: host, port: options.port)
        } else if AccessPolicy.isIPv6(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))) {
            socketAddress = try sockaddr_in6.inet6(ip6: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: options.port)
        } else {
            throw BindRule.Refused(description: "--address \(options.address) is not an IP address (or localhost): give the address to listen on, e.g. 127.0.0.1 or 0.0.0.0")
        }
        // Connections stay open for the event stream, so no handler timeout applies to sending; a handler answers at once.
        let server = HTTPServer(address: socketAddress, timeout: 30, logger: .disabled, handler: ClosureHTTPHandler { [self] request in await self.handle(request) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            group.addTask { [self] in
                try await server.waitUntilListening()
                var port = options.port
                switch await server.listeningAddress {
                case .ip4(_, let p)?, .ip6(_, let p)?: port = p
                default: break
                }
                bound.withLock { $0 = port }
                policy.withLock { $0.port = port }
                listening(port)
            }
            try await group.waitForAll()
        }
    }

    /// One request: the access rules, then the route. Never throws: every failure is an answer.
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let method = request.method.rawValue.uppercased()
        let policy = self.policy.withLock { $0 }
        let host = request.headers[.host]
        // /login sets the cookie, so it is the one route a request without one may reach (method and Host still apply).
        if request.path == "/login" {
            if let refusal = policy.check(method: method, host: host, authorization: nil, cookie: nil), refusal != .unauthorized {
                return refused(refusal)
            }
            return options.viewers == nil ? login(request, policy) : await reviewedLogin(request)
        }
        if let refusal = policy.check(method: method, host: host, authorization: request.headers[.authorization], cookie: request.headers[.cookie]) {
            return refused(refusal)
        }
        // In-cluster: whose token this is, and the API over the namespaces they may read.
        let scope = await viewerScope(request)
        if case .refusal(let response) = scope { return response }
        let api = scope.api ?? self.api
        let head = method == "HEAD"
        let path = request.path
        if path == "/api/session" { return json(session(request), head: head) }
        if let actions = options.actions {
            if method == "POST", DashboardActions.route(path) != nil { return json(await actions.handle(request, logger: logger), head: false) }
            if method == "POST" || DashboardActions.route(path) != nil { return refused(.method(method)) }
        }
        if path == "/api/rollouts" {
            let q = { (name: String) in request.query.first { $0.name == name }?.value }
            return json(api.rollouts(namespace: q("namespace"), label: q("label"), phase: q("phase")), head: head)
        }
        if path.hasPrefix("/api/rollouts/") {
            let parts = path.dropFirst("/api/rollouts/".count).split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                return json(DashboardAPI.error(404, "no such API path: /api/rollouts/{namespace}/{name} names one Rollout"), head: head)
            }
            return json(api.rollout(namespace: String(parts[0]), name: String(parts[1])), head: head)
        }
        if path == "/api/stream" { return stream(head: head, viewer: scope.viewer) }
        if path.hasPrefix("/api/") { return json(DashboardAPI.error(404, "no such API path: the API is /api/session, /api/rollouts, /api/rollouts/{namespace}/{name} and /api/stream"), head: head) }
        if let file = Assets.files[path] {
            var headers = Self.securityHeaders
            headers[.contentType] = file.contentType
            headers[.cacheControl] = "no-cache"
            return HTTPResponse(statusCode: .ok, headers: headers, body: head ? Data() : Data(file.bytes))
        }
        return page(404, "Not found", "There is nothing at this address. The dashboard is at <a href=\"/\">/</a>.", head: head)
    }

    /// Every answer carries these: the page loads only its own files, is
    /// never sniffed as another type, never framed, and sends no Referer.
    static let securityHeaders: HTTPHeaders = [
        HTTPHeader("Content-Security-Policy"): "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        HTTPHeader("X-Content-Type-Options"): "nosniff",
        HTTPHeader("Referrer-Policy"): "no-referrer",
        HTTPHeader("X-Frame-Options"): "DENY",
    ]

    func json(_ reply: DashboardAPI.Reply, head: Bool) -> HTTPResponse {
        var headers = Self.securityHeaders
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return HTTPResponse(statusCode: Self.status(reply.status), headers: headers, body: head ? Data() : reply.body)
    }

    /// A short page; `html` is ours, never a user's text.
    func page(_ status: Int, _ title: String, _ html: String, head: Bool, extra: [HTTPHeader: String] = [:]) -> HTTPResponse {
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        for (k, v) in extra { headers[k] = v }
        let body = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>\(title) · Aviary</title><h1>\(title)</h1><p>\(html)</p></html>\n"
        return HTTPResponse(statusCode: Self.status(status), headers: headers, body: head ? Data() : Data(body.utf8))
    }

    func refused(_ refusal: AccessPolicy.Refusal) -> HTTPResponse {
        switch refusal {
        case .method:
            if options.actions != nil {
                return page(405, "Method not allowed", "This dashboard answers GET and HEAD, and POST to "
                                + "<code>/api/rollouts/{namespace}/{name}/actions/{action}</code> only (the page's action buttons).", head: false,
                            extra: [HTTPHeader("Allow"): "GET, HEAD, POST"])
            }
            return page(405, "Method not allowed", "The dashboard is read-only: it answers GET and HEAD only (start it with "
                            + "<code>--allow-actions</code> for the page's action buttons).", head: false,
                        extra: [HTTPHeader("Allow"): "GET, HEAD"])
        case .host:
            return page(421, "Wrong host",
                        "This server answers to its own address (or localhost), not to the name in this request's Host header: "
                            + "open it by the address <code>kubectl aviary dashboard</code> printed.", head: false)
        case .unauthorized:
            if options.viewers != nil { return kubernetesTokenNeeded("This request carries no token") }
            return page(401, "Token needed",
                        "This dashboard needs the token from its <code>--token-file</code>: open <code>/login?token=TOKEN</code> once "
                            + "(it sets a cookie), or send <code>Authorization: Bearer TOKEN</code>.", head: false,
                        extra: [HTTPHeader("WWW-Authenticate"): "Bearer realm=\"aviary-dashboard\""])
        }
    }

    /// `/api/session`: whether this dashboard takes actions, and if so the
    /// CSRF token its page must send with each; same-origin requests only.
    func session(_ request: HTTPRequest) -> DashboardAPI.Reply {
        guard let actions = options.actions else { return DashboardAPI.json(["actions": false]) }
        let h = request.headers
        if let refusal = actions.csrf.sessionRefusal(origin: h[HTTPHeader("Origin")], fetchSite: h[HTTPHeader("Sec-Fetch-Site")], host: h[.host]) {
            return DashboardAPI.error(403, refusal)
        }
        return DashboardAPI.json(DashboardActions.Session(actions: true, csrf: actions.csrf.token))
    }

    /// `/login?token=…`: the right token sets the cookie and goes to the page.
    func login(_ request: HTTPRequest, _ policy: AccessPolicy) -> HTTPResponse {
        guard let token = policy.token else {
            return HTTPResponse(statusCode: HTTPStatusCode(303, phrase: "See Other"), headers: Self.securityHeaders.merging([.location: "/"]))
        }
        let presented = request.query.first { $0.name == "token" }?.value ?? ""
        guard policy.tokenMatches(presented) else {
            return page(401, "Wrong token", "That is not this dashboard's token (the first line of its <code>--token-file</code>).", head: false,
                        extra: [HTTPHeader("WWW-Authenticate"): "Bearer realm=\"aviary-dashboard\""])
        }
        var headers = Self.securityHeaders
        headers[.location] = "/"
        headers[.cacheControl] = "no-store"
        headers[.setCookie] = "\(AccessPolicy.cookieName)=\(token); Path=/; HttpOnly; SameSite=Strict"
        return HTTPResponse(statusCode: HTTPStatusCode(303, phrase: "See Other"), headers: headers)
    }

    /// `/api/stream`: `retry`, then `changed` events as the feed flushes them, and a ping comment every 15 s.
    func stream(head: Bool, viewer: Viewer? = nil) -> HTTPResponse {
        var headers = Self.securityHeaders
        headers[.contentType] = "text/event-stream; charset=utf-8"
        headers[.cacheControl] = "no-store"
        if head { return HTTPResponse(statusCode: .ok, headers: headers) }
        guard let keys = feed.subscribe() else {
            return json(DashboardAPI.error(503, "too many pages are following this dashboard (\(ChangeFeed.maxSubscribers)); close some and reload"), head: false)
        }
        let (frames, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(1_000))
        continuation.yield(Array((ServerSentEvents.retry() + ": connected\n\n").utf8))
        let task = Task {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await key in keys {
                        // In-cluster, a viewer hears only of Rollouts in namespaces they may read.
                        if let viewer, let gate = self.options.viewers, !(await gate.mayRead(viewer, namespace: key.namespace ?? "")) { continue }
                        continuation.yield(Array(ServerSentEvents.changed(namespace: key.namespace, name: key.name).utf8))
                    }
                }
                group.addTask {
                    while (try? await Task.sleep(for: ServerSentEvents.pingInterval)) != nil {
                        continuation.yield(Array(ServerSentEvents.ping.utf8))
                    }
                }
                _ = await group.next()
                group.cancelAll()
            }
            continuation.finish()
        }
        // When the connection goes (the response and its body are released), the feed's subscription ends with it.
        let body = StreamBody(frames: frames, lifetime: StreamBody.Lifetime { task.cancel() })
        headers[HTTPHeader("X-Accel-Buffering")] = "no"
        return HTTPResponse(statusCode: .ok, headers: headers, body: HTTPBodySequence(from: body))
    }

    static func status(_ code: Int) -> HTTPStatusCode {
        switch code {
        case 200: return .ok
        case 400: return HTTPStatusCode(400, phrase: "Bad Request")
        case 401: return HTTPStatusCode(401, phrase: "Unauthorized")
        case 403: return HTTPStatusCode(403, phrase: "Forbidden")
        case 404: return HTTPStatusCode(404, phrase: "Not Found")
        case 405: return HTTPStatusCode(405, phrase: "Method Not Allowed")
        case 409: return HTTPStatusCode(409, phrase: "Conflict")
        case 413: return HTTPStatusCode(413, phrase: "Content Too Large")
        case 421: return HTTPStatusCode(421, phrase: "Misdirected Request")
        case 422: return HTTPStatusCode(422, phrase: "Unprocessable Content")
        case 502: return HTTPStatusCode(502, phrase: "Bad Gateway")
        case 503: return HTTPStatusCode(503, phrase: "Service Unavailable")
        default: return HTTPStatusCode(500, phrase: "Internal Server Error")
        }
    }
}

extension HTTPHeaders {
    /// Plain values: iterating `HTTPHeaders` splits a value at its commas, so a copy that way would keep only the last part.
    func merging(_ other: [HTTPHeader: String]) -> HTTPHeaders {
        var copy = self
        for (k, v) in other { copy[k] = v }
        return copy
    }
}
