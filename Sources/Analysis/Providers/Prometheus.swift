import Foundation
import Kube

extension ProviderError {
    /// An error from the curl engine as a provider's message, "web at
    /// http://x: …", saying what to do where there is something to do.
    /// Anything else (a cancellation) passes through.
    public static func from(_ error: any Error, provider: String, server: String) -> any Error {
        switch error {
        case let failure as TransportFailure:
            let counted: Set<TransportFailure.Kind> = [.couldNotResolve, .couldNotConnect, .tls, .timedOut, .connectionLost]
            return ProviderError("\(provider) at \(server): \(failure.description)", transport: counted.contains(failure.kind))
        case let refused as RequestRefused:
            let advice: String
            switch refused.reason {
            case .scheme, .url: advice = "; write the address as http://host:port or https://host:port"
            case .address: advice = "; measure through an allowed address, or ask the cluster admin to add this one to --provider-allow"
            case .method, .header: advice = ""
            }
            return ProviderError("\(provider) at \(server): \(refused.message)\(advice)")
        case let large as ResponseTooLarge:
            return ProviderError("\(provider) at \(server): response larger than \(large.limit) bytes, so it was dropped; ask for less "
                                 + "(a narrower query, or an endpoint that returns less), or raise the controller's --provider-max-response-bytes")
        default:
            return error
        }
    }

    /// A 3xx answer: redirects are never followed, so say where it pointed.
    static func redirect(provider: String, server: String, status: Int, location: String?) -> ProviderError {
        let target = location.map { " to \($0)" } ?? ""
        return ProviderError("\(provider) at \(server): HTTP \(status) redirect\(target) not followed (redirects never are); "
                             + "set the address to where it points")
    }
}

/// Queries Prometheus' HTTP API (`/api/v1/query`) through the same curl engine
/// as the Kubernetes client, so no Swift-concurrency thread waits on it.
/// A vector becomes an array of numbers (hence `result[0]`), a scalar a number,
/// a matrix an array of arrays; NaN and ±Inf survive as numbers.
public struct PrometheusProvider: Sendable {
    public var address: String
    public var timeout: Duration
    public var headers: [String]
    public var insecure: Bool
    public var settings: ProviderSettings
    /// `rangeQuery`: ask `/api/v1/query_range` over this window; every
    /// sample of every series becomes one number of `result`, oldest first.
    public var range: RangeWindow?

    public init(address: String, timeout: Duration = .seconds(ProviderTimeout.prometheus), headers: [String] = [], insecure: Bool = false,
                settings: ProviderSettings = ProviderSettings(), range: RangeWindow? = nil) {
        self.range = range
        self.address = address.hasSuffix("/") ? String(address.dropLast()) : address
        self.timeout = timeout
        self.headers = headers
        self.insecure = insecure
        self.settings = settings
    }

    public func query(_ promQL: String) async throws -> JSONValue {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let escaped = promQL.addingPercentEncoding(withAllowedCharacters: allowed) ?? promQL
        let path = range.map { "query_range?query=\(escaped)&start=\($0.start)&end=\($0.end)&step=\($0.step)" } ?? "query?query=\(escaped)"
        let request = HTTPRequest(method: "GET", url: "\(address)/api/v1/\(path)",
                                  headers: ["Accept: application/json"] + headers,
                                  tls: TLSSettings(insecureSkipVerify: insecure), timeout: timeout, connectTimeout: timeout,
                                  allowedProtocols: HTTPRequest.httpOrHTTPS, maxResponseBytes: settings.maxResponseBytes,
                                  addressPolicy: settings.allow)
        let response: HTTPResponse
        do {
            response = try await CurlEngine.shared.perform(request)
        } catch {
            throw ProviderError.from(error, provider: "prometheus", server: address)
        }
        if (300..<400).contains(response.status) {
            throw ProviderError.redirect(provider: "prometheus", server: address, status: response.status, location: response.headers["location"])
        }
        let result = try Self.decode(response.body, status: response.status, address: address)
        return range == nil ? result : Self.flattened(result)
    }

    /// A range query's matrix as one array of numbers (series after series),
    /// so `all(result, # < 0.01)` and `len(result)` read as for a vector.
    public static func flattened(_ matrix: JSONValue) -> JSONValue {
        guard case .array(let series) = matrix else { return matrix }
        return .array(series.flatMap { s -> [JSONValue] in
            if case .array(let values) = s { return values }
            return [s]
        })
    }

    /// The API's answer as a condition's `result`. Pure, so it is tested on samples.
    public static func decode(_ body: Data, status: Int, address: String) throws -> JSONValue {
        // Prometheus itself never says 401 or 403; a proxy in front of it does, whatever its body.
        if status == 401 || status == 403 {
            throw ProviderError("prometheus at \(address): HTTP \(status): the request's credentials were refused; "
                                + "check the metric's authentication (the Secret it reads, or the oauth2 client and scopes)")
        }
        guard let json = try? JSONDecoder().decode(JSONValue.self, from: body) else {
            throw ProviderError("prometheus at \(address): HTTP \(status) with a body that is not JSON")
        }
        guard json["status"] == "success", let data = json["data"] else {
            let kind = json["errorType"]?.stringValue ?? "HTTP \(status)"
            throw ProviderError("prometheus at \(address): \(kind): \(json["error"]?.stringValue ?? "unknown error")")
        }
        func number(_ sample: JSONValue?) -> JSONValue {
            // A sample is [timestamp, "value"]; values are strings so NaN and Inf can be said.
            guard case .array(let pair)? = sample, pair.count == 2, let text = pair[1].stringValue else { return .null }
            switch text {
            case "NaN": return .number(.nan)
            case "+Inf", "Inf": return .number(.infinity)
            case "-Inf": return .number(-.infinity)
            default: return Double(text).map(JSONValue.number) ?? .string(text)
            }
        }
        switch data["resultType"]?.stringValue {
        case "vector":
            guard case .array(let series)? = data["result"] else { return .array([]) }
            return .array(series.map { number($0["value"]) })
        case "scalar":
            return number(data["result"])
        case "matrix":
            guard case .array(let series)? = data["result"] else { return .array([]) }
            return .array(series.map { s in
                guard case .array(let values)? = s["values"] else { return .array([]) }
                return .array(values.map { number($0) })
            })
        case "string":
            guard case .array(let pair)? = data["result"], pair.count == 2 else { return .null }
            return pair[1]
        default:
            throw ProviderError("prometheus at \(address): unknown result type \(data["resultType"]?.stringValue ?? "none")")
        }
    }
}
