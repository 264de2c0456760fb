/// A key by name, for the decoders that must see which keys an object has
/// (a step's kind, the fields a router does not know, whether `metrics` is there).
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
