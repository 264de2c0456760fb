import KubeAPI

/// A template that only includes others (`templates`) may leave out
/// `metrics`, as in Argo; the spec type keeps `metrics` required for runs,
/// so such a template is read with an empty list.
extension AnalysisTemplate {
    private enum Keys: String, CodingKey { case apiVersion, kind, metadata, spec }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        apiVersion = try c.decodeIfPresent(String.self, forKey: .apiVersion)
        kind = try c.decodeIfPresent(String.self, forKey: .kind)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        let specKeys = try c.nestedContainer(keyedBy: AnyCodingKey.self, forKey: .spec)
        if specKeys.contains(AnyCodingKey(stringValue: "metrics")) {
            spec = try c.decode(AnalysisSpec.self, forKey: .spec)
        } else {
            guard case .object(var fields) = try c.decode(JSONValue.self, forKey: .spec) else {
                throw DecodingError.typeMismatch(AnalysisSpec.self, .init(codingPath: c.codingPath + [Keys.spec], debugDescription: "spec: expected an object"))
            }
            fields["metrics"] = .array([])
            spec = try JSONValue.object(fields).decode(as: AnalysisSpec.self)
        }
    }
}
