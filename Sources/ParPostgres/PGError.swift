/// An error from libpq or the server.
///
/// `description` holds the SQLSTATE and the server's primary message; server messages can quote input values,
/// so request paths log only ``sqlState``.
public struct PGError: Error, Sendable, CustomStringConvertible {
    /// The five-character SQLSTATE, or `nil` when the failure was on the client side (connection lost, refused).
    public var sqlState: String?
    public var message: String

    public var description: String { "PostgreSQL error \(sqlState ?? "(connection)"): \(message)" }

    /// The SQLSTATE of a statement naming a table that does not exist.
    static let undefinedTable = "42P01"

    /// Whether the statement failed on the data it was given (class 22, data exception): the input is at fault,
    /// and the caller answers 400 once the bad row is isolated.
    public var isDataError: Bool { sqlState?.hasPrefix("22") == true }

    /// Whether the failure means the server cannot be reached or is not serving now, and the caller should answer
    /// 503: the connection failed or gave up at its deadline (no SQLSTATE), connection errors (class 08), a server
    /// shutting down (57P0x), too many connections (53300), a statement cancelled at its timeout or deadline (57014),
    /// a lock not granted in time (55P03), or a server that is not the primary (25006, read-only).
    ///
    /// When the connection was lost mid-statement, the statement may or may not have committed: the caller must
    /// not answer as if it had, and not as if it had not — 503, and the truth on a retry.
    public var isUnavailable: Bool {
        guard let sqlState else { return true }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P") || ["53300", "57014", "55P03", "25006"].contains(sqlState)
    }
}
