public import ParCore

/// A redemption for the arbiter: consume the request if this client pushed it and its deadline has not passed.
public struct ConsumeRequest: Sendable {
    public var day: PartitionDay
    public var requestID: [UInt8]
    public var clientID: String

    public init(reference: RequestReference, clientID: String) {
        self.day = reference.day
        self.requestID = reference.requestID
        self.clientID = clientID
    }
}
