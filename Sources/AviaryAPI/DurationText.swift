/// Durations as Argo manifests write them: "250ms", "30s", "5m", "1h30m", or a
/// bare number of seconds.
public enum DurationText {
    public static func seconds(_ text: String) throws -> Double {
        if let v = Double(text), v >= 0 { return v }
        var total = 0.0
        var number = ""
        var rest = Substring(text)
        while let ch = rest.first {
            rest = rest.dropFirst()
            if ch.isNumber || ch == "." {
                number.append(ch)
                continue
            }
            guard let n = Double(number) else { throw DurationError(text: text) }
            switch ch {
            case "h": total += n * 3600
            case "m" where rest.first == "s":
                rest = rest.dropFirst()
                total += n / 1000
            case "m": total += n * 60
            case "s": total += n
            default: throw DurationError(text: text)
            }
            number = ""
        }
        guard number.isEmpty, !text.isEmpty else { throw DurationError(text: text) }
        return total
    }
}

public struct DurationError: Error, CustomStringConvertible, Equatable {
    public let text: String
    public var description: String { "\"\(text)\" is not a duration like 30s, 5m, 1h or a number of seconds" }
}
