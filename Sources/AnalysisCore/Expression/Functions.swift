/// The functions a condition may call, with how many arguments each takes.
/// The parser resolves calls against this table, so a misspelt name or a
/// wrong argument count is a parse error when the template is read (lint, or
/// InvalidSpec when a Rollout references it), not an Error measurement at 3 a.m.
public enum Functions {
    /// Name → the number of arguments it takes.
    public static let arity: [String: Int] = [
        "len": 1,
        "all": 2, "any": 2, "none": 2, "filter": 2, "map": 2,
        "isNaN": 1, "isInf": 1, "isNil": 1,
        "asInt": 1, "asFloat": 1,
        "default": 2,
    ]

    /// The names, sorted, for messages.
    public static var names: String { arity.keys.sorted().joined(separator: ", ") }

    /// Why a call cannot be made, or nil when it can.
    static func problem(_ name: String, arguments: Int) -> String? {
        guard let n = arity[name] else {
            return "unknown function \"\(name)\"; conditions may call \(names)"
        }
        guard arguments == n else {
            return "\(name) takes \(n) argument\(n == 1 ? "" : "s"), not \(arguments)"
        }
        return nil
    }
}
