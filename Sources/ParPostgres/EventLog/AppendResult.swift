/// What the writer reports for one appended event.
public struct AppendResult: Sendable, Equatable {
    /// `false` when the event's slot was already taken (a second `pushed` for the same request).
    public var inserted: Bool
    /// The event's time, milliseconds since 1970 (PostgreSQL's clock); 0 when not inserted.
    public var atMillis: Int64
    /// The request's deadline, milliseconds since 1970, for an inserted event with a lifetime (a push); 0 otherwise.
    public var deadlineMillis: Int64
    /// The index in ``EventRecord/singleUse`` of a value used before; the event was then not written.
    public var replayedSingleUse: Int? = nil
}
