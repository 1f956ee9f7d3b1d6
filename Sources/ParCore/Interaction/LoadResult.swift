/// The outcome of loading a request at the authorization endpoint.
public enum LoadResult: Sendable, Equatable {
    /// First load: the request is now bound to this user agent.
    case loaded(Ticket)
    /// The same user agent again, within the interaction lifetime: the same ticket.
    case reloaded(Ticket)
    case refused(RefusalReason)
}
