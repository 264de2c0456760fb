import Foundation
import Kube

/// The short, stable name of a pod template: FNV-1a (32 bit) over the
/// template's canonical JSON and the collision count, written in the
/// consonant-and-digit alphabet Kubernetes uses so it never spells a word.
public enum PodTemplateHash {
    private static let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")

    public static func compute(_ template: JSONValue, collisionCount: Int = 0) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var hash: UInt32 = 2_166_136_261
        func mix<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
            for b in bytes {
                hash ^= UInt32(b)
                hash = hash &* 16_777_619
            }
        }
        mix((try? encoder.encode(template)) ?? Data())
        if collisionCount > 0 {
            withUnsafeBytes(of: UInt32(truncatingIfNeeded: collisionCount).littleEndian) { mix($0) }
        }
        // Each decimal digit becomes one letter of the alphabet, as Kubernetes' SafeEncodeString does.
        return String(String(hash).utf8.map { alphabet[Int($0) % alphabet.count] })
    }
}
