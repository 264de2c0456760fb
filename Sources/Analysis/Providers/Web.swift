import Foundation
import Kube

/// Calls an HTTP endpoint and hands its JSON (or a field of it, by jsonPath)
/// to the conditions. Through the curl engine, like everything else.
public struct WebProvider: Sendable {
    public var url: String
    public var method: String
    public var headers: [String]
    public var body: String?
    public var jsonPath: String?
    public var timeout: Duration
    public var insecure: Bool
    public var settings: ProviderSettings

    public init(url: String, method: String = "GET", headers: [String] = [], body: String? = nil, jsonPath: String? = nil,
                timeout: Duration = .seconds(ProviderTimeout.web), insecure: Bool = false, settings: ProviderSettings = ProviderSettings()) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.jsonPath = jsonPath
        self.timeout = timeout
        self.insecure = insecure
        self.settings = settings
    }

    /// The request this provider sends: checked (scheme, method, headers,
    /// address policy) before anything is sent.
    public func request() -> HTTPRequest {
        var request = HTTPRequest(method: method.uppercased(), url: url, headers: ["Accept: application/json"] + headers,
                                  body: body.map { Data($0.utf8) }, tls: TLSSettings(insecureSkipVerify: insecure),
                                  timeout: timeout, connectTimeout: timeout, allowedProtocols: HTTPRequest.httpOrHTTPS,
                                  maxResponseBytes: settings.maxResponseBytes, addressPolicy: settings.allow)
        if body != nil, !headers.contains(where: { $0.lowercased().hasPrefix("content-type:") }) {
            request.headers.append("Content-Type: application/json")
        }
        return request
    }

    public func fetch() async throws -> JSONValue {
        let request = request()
        let response: HTTPResponse
        do {
            response = try await CurlEngine.shared.perform(request)
        } catch {
            throw ProviderError.from(error, provider: "web", server: request.server)
        }
        if (300..<400).contains(response.status) {
            throw ProviderError.redirect(provider: "web", server: request.server, status: response.status, location: response.headers["location"])
        }
        guard (200..<300).contains(response.status) else {
            throw ProviderError("web at \(request.server): HTTP \(response.status)")
        }
        let json = (try? JSONDecoder().decode(JSONValue.self, from: response.body))
            ?? .string(String(decoding: response.body, as: UTF8.self))
        guard let jsonPath, !jsonPath.isEmpty else { return json }
        return try JSONPath.select(jsonPath, in: json)
    }
}
