/// An authorization request that passed validation at the PAR endpoint, ready to be stored.
public struct PushedRequest: Sendable {
    /// The authenticated client that pushed it; the request is bound to it (RFC 9126 §2.2).
    public var clientID: String
    /// The authorization request's parameters as pushed, in order, without client-authentication parameters
    /// and without parameters sent empty (RFC 6749 §3.1: those count as omitted).
    public var parameters: [(name: String, value: String)]

    public init(clientID: String, parameters: [(name: String, value: String)]) {
        self.clientID = clientID
        self.parameters = parameters
    }

    /// The parameters as a JSON object of strings: the `pushed` event's payload and the redemption's answer.
    public var parametersJSON: String { JSONText.object(parameters) }
}
