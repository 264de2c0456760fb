/// The API's `Status` object, carried by every non-2xx response and by ERROR watch events.
public struct Status: Codable, Sendable, Hashable {
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?
    public var details: StatusDetails?

    public init(status: String? = nil, message: String? = nil, reason: String? = nil, code: Int? = nil, details: StatusDetails? = nil) {
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
        self.details = details
    }
}

public struct StatusDetails: Codable, Sendable, Hashable {
    public var name: String?
    public var group: String?
    public var kind: String?
    public var uid: String?
    public var causes: [StatusCause]?
    public var retryAfterSeconds: Int?
}

public struct StatusCause: Codable, Sendable, Hashable {
    public var reason: String?
    public var message: String?
    public var field: String?
}
