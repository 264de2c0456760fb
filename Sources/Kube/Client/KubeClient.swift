import Foundation
import Logging

/// A Kubernetes API client. Cheap to copy; all copies share one curl engine,
/// one connection pool and one rate limiter.
public struct KubeClient: Sendable {
    public let access: ClusterAccess
    public var retry: RetryPolicy
    /// Limit for one ordinary request (not for watches).
    public var requestTimeout: Duration
    public var userAgent: String
    let engine: CurlEngine
    let limiter: RateLimiter
    /// The proxy every request uses, decided once ("" for none): the
    /// kubeconfig's proxy-url, or the environment as kubectl reads it.
    let proxy: String
    let observer: RequestObserver?
    let logger: Logger
    /// Header lines every request carries besides the usual ones ("Name: value"); see `impersonating(user:groups:)`.
    var extraHeaders: [String] = []

    /// Called once per HTTP answer (or transport failure, with code 0), for metrics.
    public typealias RequestObserver = @Sendable (_ request: RequestRecord) -> Void

    /// One request as the metrics see it: where its time went.
    public struct RequestRecord: Sendable {
        public var method: String
        /// The HTTP status, or 0 when no answer came.
        public var code: Int
        /// Time waiting for the client's rate limiter (QPS and burst) before it was sent.
        public var throttled: Duration
        /// From sending to the answer (a watch: to its headers).
        public var took: Duration
    }

    /// Defaults follow client-go: 5 QPS with a burst of 10.
    public init(access: ClusterAccess, qps: Double = 5, burst: Int = 10, retry: RetryPolicy = RetryPolicy(),
                requestTimeout: Duration = .seconds(30), userAgent: String = "aviary",
                engine: CurlEngine = .shared, observer: RequestObserver? = nil,
                logger: Logger = Logger(label: "aviary.kube")) {
        self.access = access
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.userAgent = userAgent
        self.engine = engine
        self.limiter = RateLimiter(qps: qps, burst: burst)
        self.proxy = access.proxyForRequests()
        self.observer = observer
        self.logger = logger
    }

    /// The same server and credentials with a request budget of its own: its
    /// own rate limiter, retry policy and timeout. Leader election renews
    /// through one, so a renewal never queues behind reconcile traffic.
    public func withOwnBudget(qps: Double, burst: Int, retry: RetryPolicy, requestTimeout: Duration) -> KubeClient {
        var copy = KubeClient(access: access, qps: qps, burst: burst, retry: retry, requestTimeout: requestTimeout, userAgent: userAgent,
                              engine: engine, observer: observer, logger: logger)
        copy.extraHeaders = extraHeaders
        return copy
    }

    /// The same client acting as another user (`Impersonate-User`, one
    /// `Impersonate-Group` per group): the API server authorizes each request
    /// as that user, provided this client's own identity may `impersonate`
    /// users and groups. Shares this client's rate limiter. Throws for a name
    /// with a control character (it would end the header).
    public func impersonating(user: String, groups: [String]) throws -> KubeClient {
        for value in [user] + groups where value.isEmpty || value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw KubeError.config("cannot impersonate \(String(reflecting: value)): a user or group name must be non-empty and hold no control characters")
        }
        var copy = self
        copy.extraHeaders = extraHeaders.filter { !$0.lowercased().hasPrefix("impersonate-") }
            + ["Impersonate-User: \(user)"] + groups.map { "Impersonate-Group: \($0)" }
        return copy
    }

    // MARK: verbs

    public func get<T: Decodable & Sendable>(_ resource: Resource, _ name: String, namespace: String? = nil,
                                            subresource: String? = nil, as type: T.Type = T.self) async throws -> T {
        let r = try await send("GET", resource.path(namespace: namespace, name: name, subresource: subresource))
        return try decode(T.self, r)
    }

    /// One page of a list.
    public func list<T: Decodable & Sendable>(_ resource: Resource, namespace: String? = nil, options: ListOptions = ListOptions(),
                                             as type: T.Type = T.self) async throws -> ObjectList<T> {
        try Self.decodePage(try await listPage(resource, namespace: namespace, options: options))
    }

    /// Every page of a list, as one list with the last page's resourceVersion
    /// (every page of one list shares a snapshot, so that version is consistent).
    /// The next page is fetched while this one decodes (its continue token is
    /// read first, by a byte scan), so a long list costs about its transfer,
    /// not transfer plus decode.
    /// - Parameter transform: applied to each page's items as it arrives (a cache's cut-down
    ///   form), so the whole list is never held in full.
    public func listAll<T: Decodable & Sendable>(_ resource: Resource, namespace: String? = nil, options: ListOptions = ListOptions(),
                                                as type: T.Type = T.self, transform: ((T) -> T)? = nil) async throws -> ObjectList<T> {
        var opts = options
        if opts.limit == nil { opts.limit = 500 }
        var restarts = 0
        while true {
            do {
                var items: [T] = [], undecodable: [Undecodable] = [], garbage: [String] = []
                var body = try await listPage(resource, namespace: namespace, options: opts)
                while true {
                    var more: ListOptions?
                    if let token = JSONScan.firstMember("metadata", of: body, as: ListMeta.self)?.continue, !token.isEmpty {
                        more = opts
                        more?.continueToken = token
                        more?.resourceVersion = nil
                    }
                    let nextOptions = more
                    async let following = nextPage(resource, namespace: namespace, options: nextOptions)
                    let page: ObjectList<T> = try Self.decodePage(body)
                    if items.isEmpty, let remaining = page.metadata.remainingItemCount, remaining > 0 {
                        // Sized once from the server's count, not doubled page by page. Bounded:
                        // it is only a hint, and a reservation is made whether or not the items come.
                        items.reserveCapacity(page.items.count + Int(min(remaining, 100_000)))
                    }
                    items += transform.map { page.items.map($0) } ?? page.items
                    undecodable += page.undecodable
                    garbage += page.garbage
                    var next = try await following
                    if next == nil, nextOptions == nil, let token = page.metadata.continue, !token.isEmpty {
                        // The scan found no token where the decoder did (metadata written after the items): fetch it now.
                        var after = opts
                        after.continueToken = token
                        after.resourceVersion = nil
                        next = try await listPage(resource, namespace: namespace, options: after)
                    }
                    guard let next else {
                        return ObjectList(metadata: page.metadata, items: items, undecodable: undecodable, garbage: garbage)
                    }
                    body = next
                }
            } catch let error as KubeError where error.isGone && restarts < 2 {
                // The snapshot behind the continue token was compacted: start over.
                restarts += 1
            }
        }
    }

    /// The next page's body, or nil after the last page.
    private func nextPage(_ resource: Resource, namespace: String?, options: ListOptions?) async throws -> Data? {
        guard let options else { return nil }
        return try await listPage(resource, namespace: namespace, options: options)
    }

    /// The body of one list request.
    private func listPage(_ resource: Resource, namespace: String?, options: ListOptions) async throws -> Data {
        var q: [(String, String)] = []
        if let s = options.labelSelector { q.append(("labelSelector", s)) }
        if let s = options.fieldSelector { q.append(("fieldSelector", s)) }
        if let l = options.limit { q.append(("limit", String(l))) }
        if let c = options.continueToken { q.append(("continue", c)) }
        if let rv = options.resourceVersion { q.append(("resourceVersion", rv)) }
        return try await send("GET", resource.path(namespace: namespace), query: q).body
    }

    private static func decodePage<T: Decodable & Sendable>(_ body: Data) throws -> ObjectList<T> {
        do {
            return try ObjectList<T>.decode(body)
        } catch {
            throw KubeError.decoding("\(ObjectList<T>.self): \(error)")
        }
    }

    public func create<T: Codable & Sendable>(_ resource: Resource, _ object: T, namespace: String? = nil,
                                             fieldManager: String? = nil) async throws -> T {
        var q: [(String, String)] = []
        if let fieldManager { q.append(("fieldManager", fieldManager)) }
        let r = try await send("POST", resource.path(namespace: namespace), query: q,
                               body: try JSONEncoder().encode(object), contentType: "application/json")
        return try decode(T.self, r)
    }

    /// PUT: the object must carry the resourceVersion it was read at; a stale one is a 409.
    /// Use `Preserved<T>` to keep fields T does not model.
    public func replace<T: Codable & Sendable>(_ resource: Resource, _ name: String, _ object: T, namespace: String? = nil,
                                              subresource: String? = nil) async throws -> T {
        let r = try await send("PUT", resource.path(namespace: namespace, name: name, subresource: subresource),
                               body: try JSONEncoder().encode(object), contentType: "application/json")
        return try decode(T.self, r)
    }

    public func patch<T: Decodable & Sendable>(_ resource: Resource, _ name: String, namespace: String? = nil, _ patch: Patch,
                                              subresource: String? = nil, fieldManager: String? = nil, force: Bool = false,
                                              as type: T.Type = T.self) async throws -> T {
        var q: [(String, String)] = []
        if let fieldManager { q.append(("fieldManager", fieldManager)) }
        if case .apply = patch {
            if fieldManager == nil { q.append(("fieldManager", userAgent)) }
            if force { q.append(("force", "true")) }
        }
        let r = try await send("PATCH", resource.path(namespace: namespace, name: name, subresource: subresource), query: q,
                               body: try patch.body(), contentType: patch.contentType)
        return try decode(T.self, r)
    }

    public func delete(_ resource: Resource, _ name: String, namespace: String? = nil, options: DeleteOptions = DeleteOptions()) async throws {
        _ = try await send("DELETE", resource.path(namespace: namespace, name: name),
                           body: try JSONEncoder().encode(options), contentType: "application/json")
    }

    /// Opens one watch connection. It ends when the server closes it; `Reflector`
    /// adds resuming and relisting on top.
    public func watch<T: Decodable & Sendable>(_ resource: Resource, namespace: String? = nil, options: WatchOptions = WatchOptions(),
                                              as type: T.Type = T.self, bufferLimit: Int = 4 << 20) async throws -> WatchStream<T> {
        var q: [(String, String)] = [("watch", "1")]
        if let rv = options.resourceVersion { q.append(("resourceVersion", rv)) }
        if let s = options.labelSelector { q.append(("labelSelector", s)) }
        if let s = options.fieldSelector { q.append(("fieldSelector", s)) }
        if options.allowBookmarks { q.append(("allowWatchBookmarks", "true")) }
        if let t = options.timeoutSeconds { q.append(("timeoutSeconds", String(t))) }
        var refreshed = false
        while true {
            let queued = ContinuousClock.now
            try await limiter.acquire()
            let sent = ContinuousClock.now
            // Not compressed: a watch's events are small and must arrive as they happen.
            let prepared = try await makeRequest("GET", resource.path(namespace: namespace), query: q, body: nil, contentType: nil, compress: false)
            var request = prepared.request
            // No whole-request limit: the server's timeoutSeconds ends the watch, with a grace period.
            request.timeout = options.timeoutSeconds.map { .seconds($0 + 30) }
            request.idleTimeout = options.idleTimeout
            let stream = engine.stream(request, bufferLimit: bufferLimit)
            let head: (status: Int, headers: [String: String])
            do {
                head = try await stream.head()
            } catch {
                observer?(RequestRecord(method: request.method, code: 0, throttled: sent - queued, took: ContinuousClock.now - sent))
                throw mapTransport(error)
            }
            observer?(RequestRecord(method: request.method, code: head.status, throttled: sent - queued, took: ContinuousClock.now - sent))
            guard head.status == 200 else {
                var body = Data()
                while let chunk = try? await stream.read() { body.append(chunk) }
                if head.status == 401, !refreshed, refresh(prepared) {
                    refreshed = true
                    continue
                }
                throw apiError(status: head.status, body: body)
            }
            return WatchStream(stream: stream)
        }
    }

    // MARK: plumbing

    /// Sends one request with rate limiting and retries; non-2xx answers become `KubeError.api`.
    /// A GET offers gzip unless the kubeconfig says `disable-compression: true`
    /// (curl decodes it; the body returned is always plain).
    public func send(_ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil,
                     contentType: String? = nil) async throws -> HTTPResponse {
        var attempt = 1
        var refreshed = false
        while true {
            let queued = ContinuousClock.now
            try await limiter.acquire()
            let sent = ContinuousClock.now
            let prepared = try await makeRequest(method, path, query: query, body: body, contentType: contentType, compress: method == "GET")
            let request = prepared.request
            let outcome: RetryPolicy.Outcome
            do {
                let response = try await engine.perform(request)
                observer?(RequestRecord(method: method, code: response.status, throttled: sent - queued, took: ContinuousClock.now - sent))
                if (200..<300).contains(response.status) { return response }
                // Refused before anything happened, so any verb may go again, once, with a fresh credential.
                if response.status == 401, !refreshed, refresh(prepared) {
                    refreshed = true
                    logger.debug("\(method) \(path): 401 with an exec plugin's credential; fetching a fresh one")
                    continue
                }
                let error = apiError(status: response.status, body: response.body)
                let retryAfter = response.headers["retry-after"].flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil }
                outcome = .status(response.status, retryAfter: retryAfter)
                guard let wait = retry.delay(after: outcome, method: method, attempt: attempt, jitter: Double.random(in: 0..<1)) else {
                    throw error
                }
                logger.debug("retrying \(method) \(path) after \(response.status) in \(wait)s")
                try await Task.sleep(for: .seconds(wait))
            } catch let failure as TransportFailure {
                observer?(RequestRecord(method: method, code: 0, throttled: sent - queued, took: ContinuousClock.now - sent))
                if Task.isCancelled { throw CancellationError() }
                guard let wait = retry.delay(after: .transport(failure), method: method, attempt: attempt, jitter: Double.random(in: 0..<1)) else {
                    throw KubeError.transport(failure)
                }
                logger.debug("retrying \(method) \(path) after \(failure) in \(wait)s")
                try await Task.sleep(for: .seconds(wait))
            }
            attempt += 1
        }
    }

    /// A request ready to send, and the exec plugin's credential it carries (if any).
    struct Prepared {
        var request: HTTPRequest
        var execCredential: ExecCredential?
    }

    /// After a 401: drops the exec plugin's credential the request carried,
    /// so the next request runs the plugin again. False when there is no
    /// such credential (a fixed token or certificate: asking again is useless).
    func refresh(_ prepared: Prepared) -> Bool {
        guard let used = prepared.execCredential, case .exec(let source) = access.credentials else { return false }
        source.invalidate(used)
        return true
    }

    /// Builds a request. The credential is resolved here, per request: a
    /// rotated token file is read again, and an exec plugin's token or client
    /// certificate (cached until it expires) goes into this request's header
    /// or TLS settings.
    func makeRequest(_ method: String, _ path: String, query: [(String, String)], body: Data?, contentType: String?,
                     compress: Bool) async throws -> Prepared {
        // The API server is spoken to over https only, unless --allow-insecure-http: a token never crosses the network in clear by accident.
        if let refusal = access.insecureHTTPRefusal(field: access.source) { throw KubeError.config(refusal) }
        var url = access.server + path
        if !query.isEmpty {
            url += "?" + query.map { "\($0.0)=\(PathEscape.query($0.1))" }.joined(separator: "&")
        }
        var headers = ["Accept: application/json", "User-Agent: \(userAgent)"] + extraHeaders
        if let contentType { headers.append("Content-Type: \(contentType)") }
        var tls = access.tls
        var execCredential: ExecCredential?
        switch access.credentials {
        case .none, .clientCertificate:
            break
        case .bearer(let source):
            headers.append("Authorization: Bearer \(try source.current())")
        case .exec(let source):
            let credential = try await source.credential()
            if let token = credential.token { headers.append("Authorization: Bearer \(token)") }
            if let cert = credential.clientCertificatePEM, let key = credential.clientKeyPEM {
                tls.clientCertPEM = cert
                tls.clientKeyPEM = key
            }
            execCredential = credential
        }
        var request = HTTPRequest(method: method, url: url, headers: headers, body: body, tls: tls, timeout: requestTimeout,
                                  allowedProtocols: access.allowInsecureHTTP ? HTTPRequest.httpOrHTTPS : HTTPRequest.httpsOnly)
        request.proxy = proxy
        if compress, !access.disableCompression { request.acceptEncoding = "gzip" }
        return Prepared(request: request, execCredential: execCredential)
    }

    func apiError(status: Int, body: Data) -> KubeError {
        if var s = try? JSONDecoder().decode(Status.self, from: body), s.message != nil || s.reason != nil {
            if s.code == nil { s.code = status }
            return .api(code: status, status: s)
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let message = status == 401 ? "Unauthorized: the credentials were rejected by \(access.server)" : (text.isEmpty ? "HTTP \(status)" : text)
        return .api(code: status, status: Status(status: "Failure", message: message, code: status))
    }

    func mapTransport(_ error: Error) -> Error {
        if let failure = error as? TransportFailure {
            return failure.kind == .cancelled ? CancellationError() : KubeError.transport(failure)
        }
        return error
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: response.body)
        } catch {
            throw KubeError.decoding("\(T.self): \(error)")
        }
    }
}
