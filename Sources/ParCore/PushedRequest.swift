/// An authorization request that passed validation at the PAR endpoint, ready to be stored.
public struct PushedRequest: Sendable {
    /// The authenticated client that pushed it; the request is bound to it (RFC 9126 §2.2).
    public var clientID: String
    /// The authorization request's parameters as pushed (or as claims of the request object), in order, without
    /// client-authentication parameters and without parameters sent empty (RFC 6749 §3.1: those count as omitted).
    /// Only `resource` may appear more than once.
    public var parameters: [(name: String, value: String)]

    public init(clientID: String, parameters: [(name: String, value: String)]) {
        self.clientID = clientID
        self.parameters = parameters
    }

    // Short lists, searched on every push: comparing a few strings costs less than hashing the name.

    /// Parameters whose value is JSON text, validated, and stored as JSON rather than as a string.
    public static let jsonParameters: [String] = ["authorization_details", "claims"]
    /// Parameters that may repeat (RFC 8707 §2), stored as an array of strings.
    public static let listParameters: [String] = ["resource"]
    /// Parameters that are integers, stored as JSON numbers.
    public static let integerParameters: [String] = ["max_age"]

    /// The parameters as a JSON object: the `pushed` event's payload and the redemption's answer.
    ///
    /// Values are strings, except `authorization_details` and `claims` (their JSON), `resource` (an array of
    /// strings, also when sent once) and `max_age` (a number). Validation has checked every such value.
    public var parametersJSON: String {
        var out = "{"
        for (index, (name, value)) in parameters.enumerated()
        where !parameters[..<index].contains(where: { $0.name == name }) {
            if index > 0 { out += "," }
            out += JSONText.string(name) + ":"
            if Self.jsonParameters.contains(name) || Self.integerParameters.contains(name) {
                out += value
            } else if Self.listParameters.contains(name) {
                out += "[" + parameters.filter { $0.name == name }.map { JSONText.string($0.value) }.joined(separator: ",") + "]"
            } else {
                out += JSONText.string(value)
            }
        }
        return out + "}"
    }
}
