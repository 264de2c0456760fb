import Foundation
import KubeAPI

/// The short, stable name of a pod template: FNV-1a (32 bit) over the
/// template's canonical JSON and the collision count, written in the
/// consonant-and-digit alphabet Kubernetes uses so it never spells a word.
public enum PodTemplateHash {
    private static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    /// A longer fingerprint of the template as the Rollout holds it, kept in an
    /// annotation on each ReplicaSet. Two different templates with the same short
    /// hash (a collision) differ here; the API server's defaulting of the
    /// ReplicaSet's own template does not matter, since that is never compared.
    public static func digest(_ template: JSONValue) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for b in canonical(template) {
            hash ^= UInt64(b)
            hash = hash &* 1_099_511_628_211
        }
        return String(hash, radix: 16)
    }

    static func canonical(_ value: JSONValue) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data()
    }

    public static func compute(_ template: JSONValue, collisionCount: Int = 0) -> String {
        var hash: UInt32 = 2_166_136_261
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
            for b in bytes {
                hash ^= UInt32(b)
                hash = hash &* 16_777_619
            }
        }
        mix(canonical(template))
        if collisionCount > 0 {
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: collisionCount).littleEndian) { mix($0) }
        }
        // Each decimal digit becomes one letter of the alphabet, as Kubernetes' SafeEncodeString does.
        return String(String(hash).utf8.map { alphabet[Int($0) % alphabet.count] })
    }
}
