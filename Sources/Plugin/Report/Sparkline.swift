/// A series as one line of block characters, lowest value ▁, highest █; a
/// missing value (NaN, ±Inf, no sample) is a space. Longer series are
/// averaged into `width` buckets.
public enum Sparkline {
    public static let blocks: [Character] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    public static func render(_ values: [Double?], width: Int = 60) -> String {
        let width = min(max(width, 1), 500)
        guard !values.isEmpty else { return "" }
        var buckets: [Double?] = []
        if values.count <= width {
            buckets = values.map { $0.flatMap { $0.isFinite ? $0 : nil } }
        } else {
            for b in 0..<width {
                let lo = b * values.count / width, hi = max(lo + 1, (b + 1) * values.count / width)
                let slice = values[lo..<min(hi, values.count)].compactMap { $0 }.filter(\.isFinite)
                // The mean of values up to ±Double.greatestFiniteMagnitude: divide first so the sum stays finite.
                buckets.append(slice.isEmpty ? nil : slice.reduce(0) { $0 + $1 / Double(slice.count) })
            }
        }
        let finite = buckets.compactMap { $0 }
        guard let low = finite.min(), let high = finite.max() else { return String(repeating: " ", count: buckets.count) }
        // Differences below a millionth of the values are float noise (0.7 vs 0.7000000000000001), drawn flat.
        let range = high - low <= max(abs(high), abs(low)) * 1e-6 ? 0 : high - low
        return String(buckets.map { v -> Character in
            guard let v else { return " " }
            guard range.isFinite, range > 0 else { return range == 0 ? blocks[3] : blocks[0] }
            let level = ((v - low) / range * Double(blocks.count - 1)).rounded()
            guard level.isFinite else { return blocks[0] }
            return blocks[min(blocks.count - 1, max(0, Int(level)))]
        })
    }
}
