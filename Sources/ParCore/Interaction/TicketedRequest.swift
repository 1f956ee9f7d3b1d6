/// A loaded request as the authorization server's UI reads it through its ticket.
public struct TicketedRequest: Sendable, Equatable {
    public var clientID: String
    public var parameters: StoredParameters
    public var pushedAtMillis: Int64
    public var loadedAtMillis: Int64
    /// The interaction deadline: redeem before it.
    public var expiresAtMillis: Int64

    public init(clientID: String, parameters: StoredParameters, pushedAtMillis: Int64, loadedAtMillis: Int64, expiresAtMillis: Int64) {
        self.clientID = clientID
        self.parameters = parameters
        self.pushedAtMillis = pushedAtMillis
        self.loadedAtMillis = loadedAtMillis
        self.expiresAtMillis = expiresAtMillis
    }
}
