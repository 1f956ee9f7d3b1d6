/// A blocking client connection that a ``BatchingWorker`` keeps, or replaces when it is found unhealthy before a batch.
///
/// The connection is created on the worker's thread and never leaves it, so it need not be `Sendable`.
public protocol WorkerConnection: AnyObject, SendableMetatype {
    /// `false` once the connection is known to be broken; the worker then drops it and connects again
    /// before the next batch.
    var isHealthy: Bool { get }
}
