/// Errors of the worker itself, as opposed to the errors of the requests it runs.
public enum WorkerError: Error, Sendable, Equatable {
    /// The worker is shutting down and takes no more requests.
    case shutDown
    /// The request's deadline passed while it was queued: it was never sent.
    case deadlineExceeded
    /// The queue is full (the server is slower than the requests arrive): the request was not queued.
    case overloaded
}
