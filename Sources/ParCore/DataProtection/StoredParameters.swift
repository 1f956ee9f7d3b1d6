/// A request's pushed parameters as the store gives them back.
public enum StoredParameters: Sendable, Equatable {
    /// The parameters as pushed: a JSON object.
    case clear(String)
    /// Sealed under the day's data key (``ParameterSeal``), as stored: the request store opens them.
    case sealed(String, requestID: [UInt8], day: PartitionDay)
    /// Gone for good: the day's data key was destroyed (`parstore erase`).
    case erased

    /// The parameters of a `pushed` event's payload (JSON text) of the request `requestID` of `day`.
    public init(payload: String?, requestID: [UInt8], day: PartitionDay) {
        guard let payload else {
            self = .clear("{}")
            return
        }
        self = ParameterSeal.isSealed(payload) ? .sealed(payload, requestID: requestID, day: day) : .clear(payload)
    }
}
