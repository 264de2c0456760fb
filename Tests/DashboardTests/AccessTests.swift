import Dashboard
import Testing

/// Who may talk to the dashboard: methods, Host (DNS rebinding), token, and where it may listen.
@Suite struct AccessTests {
    let open = AccessPolicy(address: "127.0.0.1", port: 3100, token: nil)
    let locked = AccessPolicy(address: "0.0.0.0", port: 3100, token: "s3cret-token-0123456789")

    @Test func onlyGetAndHead() {
        #expect(open.check(method: "GET", host: "127.0.0.1:3100", authorization: nil, cookie: nil) == nil)
        #expect(open.check(method: "HEAD", host: "localhost:3100", authorization: nil, cookie: nil) == nil)
        for m in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"] {
            #expect(open.check(method: m, host: "127.0.0.1:3100", authorization: nil, cookie: nil) == .method(m))
        }
    }

    @Test func hostMustNameThisServer() {
        for good in ["127.0.0.1:3100", "localhost:3100", "localhost", "[::1]:3100", "10.1.2.3:3100", "LOCALHOST:3100"] {
            #expect(open.check(method: "GET", host: good, authorization: nil, cookie: nil) == nil, "\(good)")
        }
        // A rebinding page sends its own name; a wrong port is another server.
        for bad in ["evil.example:3100", "evil.example", "127.0.0.1:80", "localhost:3100.evil", "", "[::1", "127.0.0.1:99999"] {
            #expect(open.check(method: "GET", host: bad, authorization: nil, cookie: nil) == .host(bad), "\(bad)")
        }
        #expect(open.check(method: "GET", host: nil, authorization: nil, cookie: nil) == .host(""))
        let named = AccessPolicy(address: "dash.internal", port: 8080, token: nil)
        #expect(named.check(method: "GET", host: "dash.internal:8080", authorization: nil, cookie: nil) == nil)
        // With a token the server may be reached by any of its names; the token guards it.
        #expect(locked.check(method: "GET", host: "myhost.corp:3100", authorization: "Bearer s3cret-token-0123456789", cookie: nil) == nil)
        #expect(locked.check(method: "GET", host: "evil.example", authorization: nil, cookie: nil) == .unauthorized)
    }

    @Test func tokenByHeaderOrCookie() {
        let host = "192.168.1.5:3100"
        #expect(locked.check(method: "GET", host: host, authorization: nil, cookie: nil) == .unauthorized)
        #expect(locked.check(method: "GET", host: host, authorization: "Bearer s3cret-token-0123456789", cookie: nil) == nil)
        #expect(locked.check(method: "GET", host: host, authorization: "bearer s3cret-token-0123456789", cookie: nil) == nil)
        #expect(locked.check(method: "GET", host: host, authorization: "Bearer s3cret-token-012345678", cookie: nil) == .unauthorized)
        #expect(locked.check(method: "GET", host: host, authorization: "Basic s3cret-token-0123456789", cookie: nil) == .unauthorized)
        #expect(locked.check(method: "GET", host: host, authorization: nil, cookie: "a=b; aviary_dashboard=s3cret-token-0123456789") == nil)
        #expect(locked.check(method: "GET", host: host, authorization: nil, cookie: "aviary_dashboard=wrong") == .unauthorized)
        #expect(locked.tokenMatches("s3cret-token-0123456789"))
        #expect(!locked.tokenMatches("s3cret-token-0123456789x"))
        #expect(!locked.tokenMatches(""))
        #expect(!open.tokenMatches(""))
    }

    @Test func bindOnlyLoopbackWithoutATokenOrOptOut() throws {
        try BindRule.check(address: "127.0.0.1", hasToken: false, insecureNoAuth: false)
        try BindRule.check(address: "127.8.0.1", hasToken: false, insecureNoAuth: false)
        try BindRule.check(address: "::1", hasToken: false, insecureNoAuth: false)
        try BindRule.check(address: "localhost", hasToken: false, insecureNoAuth: false)
        try BindRule.check(address: "0.0.0.0", hasToken: true, insecureNoAuth: false)
        try BindRule.check(address: "0.0.0.0", hasToken: false, insecureNoAuth: true)
        do {
            try BindRule.check(address: "0.0.0.0", hasToken: false, insecureNoAuth: false)
            Issue.record("0.0.0.0 without a token was allowed")
        } catch {
            #expect(error.description.contains("--token-file") && error.description.contains("--insecure-no-auth"))
        }
    }
}
