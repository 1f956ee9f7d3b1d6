/// Rows of a result in text format; `nil` is SQL NULL.
public struct PGRows: Sendable {
    public var rows: [[String?]]
    /// The number of rows the command affected (`INSERT`, `UPDATE`), or the number of rows returned.
    public var affected: Int
}
