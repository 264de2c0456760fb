import CCurl
import Foundation

/// Where a transfer's answer goes. Called on the I/O thread only.
protocol TransferSink: AnyObject, Sendable {
    func receiveHead(status: Int, headers: [String: String])
    /// Returns false to pause the transfer; curl then offers the same bytes again later.
    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool
    func finish(_ error: Error?)
    /// True while the reader is behind and the transfer is paused on purpose.
    var isPaused: Bool { get }
    /// The I/O thread is about to unpause the transfer.
    func willResume()
}

/// One request in flight: its curl easy handle and what curl needs kept alive
/// until the transfer ends. Touched by the I/O thread only.
final class Transfer: @unchecked Sendable {
    let id: Int
    let request: HTTPRequest
    let sink: TransferSink
    let token: CancelToken
    private(set) var easy: UnsafeMutableRawPointer?
    private var headerList: UnsafeMutablePointer<curl_slist>?
    /// CURLOPT_CONNECT_TO's list, kept until the transfer ends (curl does not copy it).
    private var connectToList: UnsafeMutablePointer<curl_slist>?
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
    private var status = 0
    private var headers: [String: String] = [:]
    private var headDelivered = false
    /// Body bytes handed to the sink so far, for `HTTPRequest.maxResponseBytes`.
    private var received = 0
    /// The body went past `maxResponseBytes`; curl was told to stop.
    private var tooLarge = false
    /// What `HTTPRequest.target()` said, once checked.
    private var verdict: AddressPolicy.Verdict = .allowed
    /// The first address the policy refused, and whether any allowed one was tried.
    private var refusedAddress: String?
    private var triedAllowedAddress = false
    /// When bytes last arrived, for `HTTPRequest.idleTimeout`. (curl's own
    /// low-speed check does not fire for a quiet stream on a shared HTTP/2
    /// connection, so the I/O loop checks this instead.)
    private(set) var lastActivity = ContinuousClock.now

    init(id: Int, request: HTTPRequest, sink: TransferSink, token: CancelToken) {
        self.id = id
        self.request = request
        self.sink = sink
        self.token = token
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        release()
        errorBuffer.deallocate()
    }

    func makeEasyHandle() throws -> UnsafeMutableRawPointer {
        guard let h = curl_easy_init() else {
            throw TransportFailure(kind: .other, server: request.server, detail: "curl_easy_init failed", notSent: true)
        }
        easy = h
        let me = Unmanaged.passUnretained(self).toOpaque()
        var failed: CURLcode = CURLE_OK
        func check(_ code: CURLcode) { if code != CURLE_OK, failed == CURLE_OK { failed = code } }

        // Checked again here, whoever built the request: nothing unchecked is ever sent.
        do {
            verdict = try request.target().verdict
        } catch {
            release()
            throw error
        }
        var url = request.url
        var extraHeaders: [String] = []
        if let name = request.tls.serverName, !name.isEmpty {
            switch Self.serverNameRoute(url: request.url, serverName: name) {
            case .unchanged:
                break
            case .unusable:
                release()
                throw RequestRefused(.url, "the TLS server name \"\(name)\" cannot be used with \(request.server)")
            case .rerouted(let rewritten, let connectTo, let hostHeader):
                url = rewritten
                let list = curl_slist_append(nil, connectTo)
                connectToList = list
                check(aviary_easy_setopt_slist(h, CURLOPT_CONNECT_TO, list))
                if !request.headers.contains(where: { $0.lowercased().hasPrefix("host:") }) { extraHeaders.append(hostHeader) }
            }
        }
        check(aviary_easy_setopt_string(h, CURLOPT_URL, url))
        check(aviary_easy_setopt_string(h, CURLOPT_PROTOCOLS_STR, request.allowedProtocols))
        check(aviary_easy_setopt_string(h, CURLOPT_REDIR_PROTOCOLS_STR, request.allowedProtocols))
        // A redirect is an answer, never followed: a server cannot send us somewhere else.
        check(aviary_easy_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0))
        if let limit = request.maxResponseBytes {
            // Refuses at once a response whose Content-Length says it is too large.
            check(aviary_easy_setopt_off(h, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(max(0, limit))))
        }
        if request.addressPolicy != nil {
            // What is checked is what is connected to: no proxy in between.
            check(aviary_easy_setopt_string(h, CURLOPT_NOPROXY, "*"))
        } else if let proxy = request.proxy {
            // The caller decided ("" is none): curl must not apply its own
            // reading of the proxy variables or no_proxy on top.
            check(aviary_easy_setopt_string(h, CURLOPT_PROXY, proxy))
            check(aviary_easy_setopt_string(h, CURLOPT_NOPROXY, ""))
        }
        if let encoding = request.acceptEncoding {
            // curl sends Accept-Encoding and decodes the body as it arrives.
            check(aviary_easy_setopt_string(h, CURLOPT_ACCEPT_ENCODING, encoding))
        }
        if verdict == .checkAddresses {
            // A connection of its own, so the check below always runs: a pooled
            // connection to the same host may have been opened without it.
            check(aviary_easy_setopt_long(h, CURLOPT_FRESH_CONNECT, 1))
            check(aviary_easy_setopt_long(h, CURLOPT_FORBID_REUSE, 1))
            check(aviary_easy_setopt_pointer(h, CURLOPT_OPENSOCKETDATA, me))
            check(aviary_easy_setopt_opensocket(h) { user, _, address in
                guard let user, let address else { return CURL_SOCKET_BAD }
                let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
                return transfer.openSocket(address)
            })
        }
        check(aviary_easy_setopt_long(h, CURLOPT_NOSIGNAL, 1))
        check(aviary_easy_setopt_pointer(h, CURLOPT_ERRORBUFFER, errorBuffer))
        check(aviary_easy_setopt_long(h, CURLOPT_HTTP_VERSION, request.http2 ? Int(CURL_HTTP_VERSION_2TLS) : Int(CURL_HTTP_VERSION_1_1)))
        check(aviary_easy_setopt_long(h, CURLOPT_PIPEWAIT, request.http2 ? 1 : 0))
        // Verbose output goes through a filter that blanks Authorization (and Cookie) headers.
        if Self.verbose { check(aviary_easy_setopt_redacting_debug(h)) }
        // Through an HTTPS proxy, the proxy's "200 Connection established" is not the answer.
        check(aviary_easy_setopt_long(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1))
        check(aviary_easy_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1))
        check(aviary_easy_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, request.connectTimeout.milliseconds))
        if let timeout = request.timeout {
            check(aviary_easy_setopt_long(h, CURLOPT_TIMEOUT_MS, timeout.milliseconds))
        }
        switch request.method {
        case "GET": check(aviary_easy_setopt_long(h, CURLOPT_HTTPGET, 1))
        // HEAD has no body: NOBODY, or curl would wait for one.
        case "HEAD": check(aviary_easy_setopt_long(h, CURLOPT_NOBODY, 1))
        default: check(aviary_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, request.method))
        }
        if let body = request.body {
            check(aviary_easy_setopt_off(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            body.withUnsafeBytes { raw in
                // COPYPOSTFIELDS copies, so the Data may go away.
                check(aviary_easy_setopt_pointer(h, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)))
            }
        }
        var list: UnsafeMutablePointer<curl_slist>?
        // curl adds "Expect: 100-continue" to large bodies; the API server does not need the extra round trip.
        for line in request.headers + extraHeaders + ["Expect:"] { list = curl_slist_append(list, line) }
        headerList = list
        check(aviary_easy_setopt_slist(h, CURLOPT_HTTPHEADER, list))

        let tls = request.tls
        if tls.insecureSkipVerify {
            check(aviary_easy_setopt_long(h, CURLOPT_SSL_VERIFYPEER, 0))
            check(aviary_easy_setopt_long(h, CURLOPT_SSL_VERIFYHOST, 0))
        } else if let ca = tls.caPEM {
            // Trust this CA alone, not also the system's store (curl's CAPATH default).
            check(aviary_easy_setopt_string(h, CURLOPT_CAPATH, nil))
            check(aviary_easy_setopt_string(h, CURLOPT_CAINFO, nil))
            check(Self.setBlob(h, CURLOPT_CAINFO_BLOB, ca))
        }
        if let cert = tls.clientCertPEM {
            check(aviary_easy_setopt_string(h, CURLOPT_SSLCERTTYPE, "PEM"))
            check(Self.setBlob(h, CURLOPT_SSLCERT_BLOB, cert))
        }
        if let key = tls.clientKeyPEM {
            check(aviary_easy_setopt_string(h, CURLOPT_SSLKEYTYPE, "PEM"))
            check(Self.setBlob(h, CURLOPT_SSLKEY_BLOB, key))
        }

        check(aviary_easy_setopt_pointer(h, CURLOPT_HEADERDATA, me))
        check(aviary_easy_setopt_callback(h, CURLOPT_HEADERFUNCTION) { ptr, size, count, user in
            guard let user else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
            transfer.headerLine(UnsafeRawBufferPointer(start: ptr, count: size * count))
            return size * count
        })
        check(aviary_easy_setopt_pointer(h, CURLOPT_WRITEDATA, me))
        check(aviary_easy_setopt_callback(h, CURLOPT_WRITEFUNCTION) { ptr, size, count, user in
            guard let user else { return 0 }
            let transfer = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
            return transfer.body(UnsafeRawBufferPointer(start: ptr, count: size * count))
        })
        if failed != CURLE_OK {
            let detail = String(cString: curl_easy_strerror(failed))
            release()
            throw TransportFailure(kind: .other, server: request.server, detail: "cannot configure request: \(detail)", notSent: true)
        }
        return h
    }

    /// AVIARY_CURL_VERBOSE=1 makes curl describe every transfer on stderr.
    static let verbose = ProcessInfo.processInfo.environment["AVIARY_CURL_VERBOSE"] == "1"

    private static func setBlob(_ h: UnsafeMutableRawPointer, _ option: CURLoption, _ data: Data) -> CURLcode {
        var bytes = [UInt8](data)
        return bytes.withUnsafeMutableBytes { aviary_easy_setopt_blob(h, option, $0.baseAddress, $0.count) }
    }

    /// Frees the easy handle and header lists. Safe to call twice.
    func release() {
        if let h = easy { curl_easy_cleanup(h) }
        easy = nil
        if let l = headerList { curl_slist_free_all(l) }
        headerList = nil
        if let l = connectToList { curl_slist_free_all(l) }
        connectToList = nil
    }

    enum ServerNameRoute: Equatable {
        /// The name is the URL's host already.
        case unchanged
        case rerouted(url: String, connectTo: String, hostHeader: String)
        /// A URL or name curl cannot use.
        case unusable
    }

    /// How a request reaches `url` while the certificate is checked against
    /// `serverName` (a kubeconfig's `tls-server-name`, Go's
    /// `tls.Config.ServerName`).
    ///
    /// libcurl 7.88 has no option for "verify this other name", and turning
    /// CURLOPT_SSL_VERIFYHOST off is not an option. So the URL's host becomes
    /// the server name (curl then sends it as SNI and verifies the
    /// certificate against it, VERIFYHOST still on) and CURLOPT_CONNECT_TO
    /// (`name:port:host:port`) sends the connection to the real host. Through
    /// an HTTP proxy, the CONNECT asks for the real host too, as Go does
    /// (ProxyTests checks it). CURLOPT_RESOLVE would need the host's address
    /// up front (no DNS name, no proxy), so it is not used. The `Host` header
    /// keeps the original host and port, as in client-go.
    static func serverNameRoute(url: String, serverName: String) -> ServerNameRoute {
        guard let handle = curl_url() else { return .unusable }
        defer { curl_url_cleanup(handle) }
        guard curl_url_set(handle, CURLUPART_URL, url, 0) == CURLUE_OK else { return .unusable }
        func part(_ what: CURLUPart, _ flags: Int32 = 0) -> String? {
            var out: UnsafeMutablePointer<CChar>?
            guard curl_url_get(handle, what, &out, UInt32(flags)) == CURLUE_OK, let out else { return nil }
            defer { curl_free(out) }
            return String(cString: out)
        }
        guard let host = part(CURLUPART_HOST), let port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT) else { return .unusable }
        let explicitPort = part(CURLUPART_PORT)
        // An IPv6 address goes in brackets in a URL and in CONNECT_TO.
        let name = serverName.contains(":") && !serverName.hasPrefix("[") ? "[\(serverName)]" : serverName
        if name.lowercased() == host.lowercased() { return .unchanged }
        guard curl_url_set(handle, CURLUPART_HOST, name, 0) == CURLUE_OK, let rewritten = part(CURLUPART_URL) else { return .unusable }
        return .rerouted(url: rewritten, connectTo: "\(name):\(port):\(host):\(port)",
                         hostHeader: "Host: \(host)" + (explicitPort.map { ":\($0)" } ?? ""))
    }

    func touch() { lastActivity = .now }

    /// True when the request has an idle limit, the reader is keeping up, and nothing has arrived for that long.
    func isIdle(now: ContinuousClock.Instant) -> Bool {
        guard let idle = request.idleTimeout, !sink.isPaused else { return false }
        return now - lastActivity > idle
    }

    private func headerLine(_ raw: UnsafeRawBufferPointer) {
        lastActivity = .now
        let line = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if line.hasPrefix("HTTP/") {
            // A new response head (the first, or the one after a 100 Continue).
            let parts = line.split(separator: " ", maxSplits: 2)
            status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
            headers = [:]
        } else if line.isEmpty {
            if status >= 200 { deliverHead() }
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = value
        }
    }

    private func deliverHead() {
        guard !headDelivered else { return }
        headDelivered = true
        sink.receiveHead(status: status, headers: headers)
    }

    /// What the write callback returns: all bytes taken, curl's pause, or 0
    /// (a write error, which ends the transfer) once the body passes the limit.
    private func body(_ bytes: UnsafeRawBufferPointer) -> Int {
        lastActivity = .now
        if let limit = request.maxResponseBytes, bytes.count > limit - min(received, limit) {
            tooLarge = true
            return 0
        }
        deliverHead()
        guard sink.receive(bytes) else { return aviary_writefunc_pause() }
        received += bytes.count
        return bytes.count
    }

    /// curl is about to connect to `address`: open the socket only if the
    /// policy allows the address, so DNS answers and retries are all checked.
    fileprivate func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        var raw = [UInt8](repeating: 0, count: 16)
        let n = raw.withUnsafeMutableBufferPointer { Int(aviary_sockaddr_ip(address, $0.baseAddress)) }
        guard n == 4 || n == 16, let ip = IPAddress(bytes: Array(raw.prefix(n))), request.addressPolicy?.allows(ip) == true else {
            if refusedAddress == nil {
                refusedAddress = IPAddress(bytes: Array(raw.prefix(n))).map(\.description) ?? "of an unknown kind"
            }
            return CURL_SOCKET_BAD
        }
        triedAllowedAddress = true
        return aviary_open_socket(address)
    }

    /// A curl error as words a person can act on.
    func failure(for code: CURLcode) -> any Error {
        let server = request.server
        if let limit = request.maxResponseBytes, code == CURLE_FILESIZE_EXCEEDED || (code == CURLE_WRITE_ERROR && tooLarge) {
            return ResponseTooLarge(server: server, limit: limit, status: status > 0 ? status : nil)
        }
        if let address = refusedAddress, !triedAllowedAddress, let policy = request.addressPolicy {
            return RequestRefused(.address, policy.refusal(address: address))
        }
        let detail = String(cString: errorBuffer).isEmpty ? String(cString: curl_easy_strerror(code)) : String(cString: errorBuffer)
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST:
            return TransportFailure(kind: .couldNotResolve, server: server, detail: detail, notSent: true)
        case CURLE_COULDNT_CONNECT:
            return TransportFailure(kind: .couldNotConnect, server: server, detail: detail, notSent: true)
        case CURLE_PEER_FAILED_VERIFICATION:
            return TransportFailure(kind: .tls, server: server,
                                    detail: "the server's certificate is not trusted by the configured certificate authority (\(detail))", notSent: true)
        case CURLE_SSL_CACERT_BADFILE:
            return TransportFailure(kind: .tls, server: server, detail: "the configured certificate authority cannot be read (\(detail))", notSent: true)
        case CURLE_SSL_CERTPROBLEM:
            return TransportFailure(kind: .tls, server: server, detail: "the client certificate or key is unusable (\(detail))", notSent: true)
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH:
            return TransportFailure(kind: .tls, server: server, detail: "TLS handshake failed (\(detail))", notSent: true)
        case CURLE_OPERATION_TIMEDOUT:
            return TransportFailure(kind: .timedOut, server: server, detail: detail, notSent: false)
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return TransportFailure(kind: .connectionLost, server: server, detail: detail, notSent: false)
        default:
            return TransportFailure(kind: .other, server: server, detail: detail, notSent: false)
        }
    }
}

extension Duration {
    /// Whole milliseconds for curl, saturating: at least 1 (curl reads 0 as
    /// "no limit") and at most Int32.max (about 24 days), however large the
    /// duration a user wrote.
    var milliseconds: Int {
        let (s, atto) = components
        let ceiling = Int64(Int32.max)
        guard s >= 0 else { return 1 }
        guard s < ceiling / 1000 else { return Int(ceiling) }
        return Int(max(1, s * 1000 + atto / 1_000_000_000_000_000))
    }
}

/// Collects a whole response and resumes the waiting caller once.
final class BufferedSink: TransferSink, @unchecked Sendable {
    private var continuation: CheckedContinuation<HTTPResponse, Error>?
    private var status = 0
    private var headers: [String: String] = [:]
    private var body = Data()

    let isPaused = false
    func willResume() {}

    /// The most bytes reserved up front from a Content-Length (the transfer
    /// enforces `maxResponseBytes`; this only keeps a lying header from
    /// reserving memory).
    private let reserveLimit: Int

    init(continuation: CheckedContinuation<HTTPResponse, Error>, maxBytes: Int? = nil) {
        self.continuation = continuation
        reserveLimit = min(maxBytes ?? Int.max, 256 << 20)
    }

    func receiveHead(status: Int, headers: [String: String]) {
        self.status = status
        self.headers = headers
        if let length = headers["content-length"].flatMap(Int.init), length > 0, length <= reserveLimit {
            body.reserveCapacity(length)
        }
    }

    func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        body.append(contentsOf: bytes)
        return true
    }

    func finish(_ error: Error?) {
        guard let c = continuation else { return }
        continuation = nil
        if let error {
            c.resume(throwing: error)
        } else {
            c.resume(returning: HTTPResponse(status: status, headers: headers, body: body))
        }
    }
}
