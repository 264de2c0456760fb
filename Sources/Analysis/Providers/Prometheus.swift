import Foundation
import Kube

/// A measurement provider's failure, naming where it failed.
public struct ProviderError: Error, Equatable, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
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

    public init(address: String, timeout: Duration = .seconds(30), headers: [String] = [], insecure: Bool = false) {
        self.address = address.hasSuffix("/") ? String(address.dropLast()) : address
        self.timeout = timeout
        self.headers = headers
        self.insecure = insecure
    }

    public func query(_ promQL: String) async throws -> JSONValue {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let escaped = promQL.addingPercentEncoding(withAllowedCharacters: allowed) ?? promQL
        let request = HTTPRequest(method: "GET", url: "\(address)/api/v1/query?query=\(escaped)",
                                  headers: ["Accept: application/json"] + headers,
                                  tls: TLSSettings(insecureSkipVerify: insecure), timeout: timeout, connectTimeout: timeout)
        let response: HTTPResponse
        do {
            response = try await CurlEngine.shared.perform(request)
        } catch let failure as TransportFailure {
            throw ProviderError("prometheus at \(address): \(failure.description)")
        }
        return try Self.decode(response.body, status: response.status, address: address)
    }

    /// The API's answer as a condition's `result`. Pure, so it is tested on samples.
    public static func decode(_ body: Data, status: Int, address: String) throws -> JSONValue {
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
