import Foundation
import TestSupport
import Testing
@testable import Kube

/// What the curl engine refuses to send, checked before any I/O.
@Suite struct RequestValidationTests {
    func refusal(_ request: HTTPRequest) -> RequestRefused? {
        do {
            try request.validate()
            return nil
        } catch {
            return error as? RequestRefused
        }
    }

    @Test(arguments: ["file:///etc/passwd", "gopher://127.0.0.1:70/_x", "dict://127.0.0.1:11211/stats", "ftp://h/x", "ldap://h/"])
    func onlyHTTPAndHTTPSSchemes(url: String) throws {
        let r = try #require(refusal(HTTPRequest(method: "GET", url: url)))
        #expect(r.reason == .scheme)
        let scheme = String(url.prefix { $0 != ":" })
        #expect(r.message == "the URL scheme \"\(scheme)\" is not allowed; only http and https may be used")
    }

    @Test func theAPIServerMayBeHTTPSOnly() throws {
        let r = try #require(refusal(HTTPRequest(method: "GET", url: "http://h/api", allowedProtocols: HTTPRequest.httpsOnly)))
        #expect(r.message == "the URL scheme \"http\" is not allowed; only https may be used")
        #expect(refusal(HTTPRequest(method: "GET", url: "https://h/api", allowedProtocols: HTTPRequest.httpsOnly)) == nil)
        #expect(refusal(HTTPRequest(method: "GET", url: "HTTP://h/")) == nil, "schemes are case-insensitive")
    }

    @Test func aURLWithoutSchemeOrHostIsRefused() throws {
        #expect(refusal(HTTPRequest(method: "GET", url: "prometheus:9090")) != nil)
        #expect(refusal(HTTPRequest(method: "GET", url: "http://"))?.reason == .url)
        #expect(refusal(HTTPRequest(method: "GET", url: "/api/v1/query"))?.reason == .url)
    }

    @Test(arguments: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
    func standardMethodsPass(method: String) {
        #expect(refusal(HTTPRequest(method: method, url: "http://h/")) == nil)
    }

    @Test(arguments: ["TRACE", "CONNECT", "get", "GET / HTTP/1.1\r\nX: y", "", "PROPFIND"])
    func otherMethodsAreRefused(method: String) throws {
        let r = try #require(refusal(HTTPRequest(method: method, url: "http://h/")))
        #expect(r.reason == .method)
        #expect(r.message.hasSuffix("is not allowed; use one of DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT"))
    }

    @Test func headerLinesCannotCarryLineBreaks() throws {
        for line in ["X-Token: a\r\nX-Admin: true", "X-Token: a\n", "X-Token: a\rb", "X-Token: a\u{0}b"] {
            let r = try #require(refusal(HTTPRequest(method: "GET", url: "http://h/", headers: [line])))
            #expect(r.reason == .header)
            #expect(r.message.hasPrefix("header \"X-Token\" has a line break (CR or LF) or NUL in its value"))
            #expect(!r.message.contains("X-Admin"), "the value is not echoed")
        }
        let badName = try #require(refusal(HTTPRequest(method: "GET", url: "http://h/", headers: ["X Token: a"])))
        #expect(badName.message.hasPrefix("header name \"X Token\" is not a valid HTTP header name"))
        #expect(refusal(HTTPRequest(method: "GET", url: "http://h/", headers: ["no colon"]))?.reason == .header)
        #expect(refusal(HTTPRequest(method: "GET", url: "http://h/", headers: ["Authorization: Bearer a.b-c_d~e+/="])) == nil)
    }

    @Test func theEngineRefusesBeforeSending() async throws {
        await #expect(throws: RequestRefused(.scheme, "the URL scheme \"file\" is not allowed; only http and https may be used")) {
            _ = try await CurlEngine.shared.perform(HTTPRequest(method: "GET", url: "file:///etc/passwd"))
        }
    }

    @Test func millisecondsSaturate() {
        #expect(Duration.seconds(10).milliseconds == 10_000)
        #expect(Duration.milliseconds(1500).milliseconds == 1500)
        #expect(Duration.seconds(Int.max).milliseconds == Int(Int32.max), "no overflow on a huge timeout")
        #expect(Duration.seconds(Int64.max / 2).milliseconds == Int(Int32.max))
        #expect(Duration.zero.milliseconds == 1, "never 0, which curl reads as no limit")
        #expect(Duration.seconds(-5).milliseconds == 1)
    }
}

@Suite struct AddressPolicyTests {
    let policy: AddressPolicy

    init() throws {
        policy = try AddressPolicy(parsing: ["prometheus.monitoring.svc, *.metrics.internal", "127.0.0.0/8", "fd00::/8", "192.168.1.7"])
    }

    @Test func parsesNamesDomainsAndNetworks() throws {
        #expect(policy.rules.count == 5)
        #expect(policy.description == "prometheus.monitoring.svc, *.metrics.internal, 127.0.0.0/8, fd00::/8, 192.168.1.7/32")
        #expect(try AddressPolicy(parsing: [" ", ""]).rules.isEmpty)
    }

    @Test(arguments: ["10.0.0.0/33", "fd00::/129", "10.0.0/8", "not a host", "*.", "10.0.0.0/-1", "http://x"])
    func badEntriesAreErrors(entry: String) {
        #expect(throws: AddressPolicy.ParseError.self) { try AddressPolicy(parsing: [entry]) }
    }

    @Test func namesMatchExactlyOrByDomain() {
        #expect(policy.verdict(host: "prometheus.monitoring.svc") == .allowed)
        #expect(policy.verdict(host: "PROMETHEUS.monitoring.svc.") == .allowed, "case and a trailing dot do not matter")
        #expect(policy.verdict(host: "a.b.metrics.internal") == .allowed)
        #expect(policy.verdict(host: "metrics.internal") == .checkAddresses, "*.x matches names under x, not x itself")
        #expect(policy.verdict(host: "evilmetrics.internal") == .checkAddresses)
        #expect(policy.verdict(host: "prometheus.monitoring.svc.evil.com") == .checkAddresses)
    }

    @Test func withoutNetworksAnUnknownNameIsRefusedAtOnce() throws {
        let names = try AddressPolicy(parsing: ["prometheus.monitoring.svc"])
        #expect(names.verdict(host: "evil.example") == .refused("host evil.example is not allowed by --provider-allow (allowed: prometheus.monitoring.svc)"))
    }

    @Test func addressesMustBeInANetwork() {
        #expect(policy.verdict(host: "127.0.0.1") == .allowed)
        #expect(policy.verdict(host: "127.255.0.9") == .allowed)
        #expect(policy.verdict(host: "192.168.1.7") == .allowed)
        #expect(policy.verdict(host: "192.168.1.8") == .refused(
            "address 192.168.1.8 is not allowed by --provider-allow (allowed: prometheus.monitoring.svc, *.metrics.internal, 127.0.0.0/8, fd00::/8, 192.168.1.7/32)"))
        #expect(policy.verdict(host: "169.254.169.254") != .allowed, "no cloud metadata")
        #expect(policy.verdict(host: "[fd12::1]") == .allowed)
        #expect(policy.verdict(host: "fe80::1") != .allowed)
        #expect(policy.verdict(host: "[::1]") != .allowed, "IPv6 loopback is not 127.0.0.0/8")
        #expect(policy.verdict(host: "::ffff:127.0.0.1") == .allowed, "an IPv4-mapped address is its IPv4 address")
        #expect(policy.verdict(host: "::ffff:10.0.0.1") != .allowed)
    }

    @Test func networksMatchByPrefix() throws {
        let n = try #require(IPNetwork("10.1.128.0/17"))
        #expect(n.contains(try #require(IPAddress("10.1.200.3"))))
        #expect(!n.contains(try #require(IPAddress("10.1.127.255"))))
        let all = try #require(IPNetwork("0.0.0.0/0"))
        #expect(all.contains(try #require(IPAddress("8.8.8.8"))))
        #expect(!all.contains(try #require(IPAddress("::1"))), "an IPv4 network holds no IPv6 address")
        let v6 = try #require(IPNetwork("2001:db8::/32"))
        #expect(v6.contains(try #require(IPAddress("2001:db8:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db9::1"))))
        #expect(IPAddress("::ffff:1.2.3.4")?.description == "1.2.3.4")
        #expect(IPAddress("2001:db8::1")?.description == "2001:db8::1")
    }
}

/// Against a real server on 127.0.0.1: the size cap, redirects and the
/// address check at connect time.
@Suite(.serialized) struct TransportLimitTests {
    func get(_ url: String, limit: Int? = nil, policy: AddressPolicy? = nil) async throws -> HTTPResponse {
        try await CurlEngine.shared.perform(HTTPRequest(method: "GET", url: url, timeout: .seconds(10), connectTimeout: .seconds(5),
                                                        maxResponseBytes: limit, addressPolicy: policy))
    }

    @Test func aDeclaredLengthPastTheCapIsRefusedAtOnce() async throws {
        let server = try TinyHTTPServer { _ in
            TinyHTTPServer.response("200 OK", headers: ["Content-Length: 2000000"], body: [UInt8](repeating: 0x61, count: 2_000_000))
        }
        defer { server.stop() }
        await #expect(throws: ResponseTooLarge(server: "http://127.0.0.1:\(server.port)", limit: 1 << 20)) {
            _ = try await get("http://127.0.0.1:\(server.port)/", limit: 1 << 20)
        }
    }

    @Test func anUndeclaredBodyIsCutAtTheCap() async throws {
        // No Content-Length: the body runs until the connection closes.
        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("200 OK", body: [UInt8](repeating: 0x61, count: 3_000_000)) }
        defer { server.stop() }
        let error = await #expect(throws: ResponseTooLarge.self) { _ = try await get("http://127.0.0.1:\(server.port)/", limit: 1 << 20) }
        #expect(error?.description == "response larger than 1048576 bytes")
    }

    @Test func aBodyAtTheCapIsKeptWhole() async throws {
        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("200 OK", body: [UInt8](repeating: 0x62, count: 4096)) }
        defer { server.stop() }
        let r = try await get("http://127.0.0.1:\(server.port)/", limit: 4096)
        #expect(r.status == 200)
        #expect(r.body.count == 4096)
    }

    @Test func redirectsAreNotFollowed() async throws {
        let server = try TinyHTTPServer { head in
            head.hasPrefix("GET /elsewhere") ? TinyHTTPServer.response("200 OK", body: Array("followed".utf8))
                : TinyHTTPServer.response("302 Found", headers: ["Location: /elsewhere", "Content-Length: 0"], body: [])
        }
        defer { server.stop() }
        let r = try await get("http://127.0.0.1:\(server.port)/")
        #expect(r.status == 302)
        #expect(r.headers["location"] == "/elsewhere")
        #expect(server.connections == 1)
    }

    @Test func aNameResolvingOutsideTheNetworksIsRefusedAtConnect() async throws {
        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("200 OK", body: Array("{}".utf8)) }
        defer { server.stop() }
        let policy = try AddressPolicy(parsing: ["10.0.0.0/8"])
        let error = await #expect(throws: RequestRefused.self) { _ = try await get("http://localhost:\(server.port)/", policy: policy) }
        #expect(error?.reason == .address)
        #expect(error?.message.hasSuffix("is not allowed by --provider-allow (allowed: 10.0.0.0/8)") == true)
        #expect(error?.message.hasPrefix("address 127.0.0.1") == true || error?.message.hasPrefix("address ::1") == true)
        #expect(server.connections == 0, "nothing was sent")
    }

    @Test func aNameResolvingInsideTheNetworksIsAllowed() async throws {
        let server = try TinyHTTPServer { _ in TinyHTTPServer.response("200 OK", body: Array("{}".utf8)) }
        defer { server.stop() }
        let policy = try AddressPolicy(parsing: ["127.0.0.0/8"])
        #expect(try await get("http://localhost:\(server.port)/", policy: policy).status == 200)
        #expect(try await get("http://127.0.0.1:\(server.port)/", policy: policy).status == 200)
        let named = try AddressPolicy(parsing: ["localhost"])
        #expect(try await get("http://localhost:\(server.port)/", policy: named).status == 200)
        await #expect(throws: RequestRefused.self, "an IP literal is judged by networks, not names") {
            _ = try await get("http://127.0.0.1:\(server.port)/", policy: named)
        }
    }
}
