/// Redis as `/readyz` reports it.
public enum RedisHealth: Sendable, Equatable {
    case up
    /// A cluster some of whose slots have no reachable primary now.
    case degraded(unreachableSlots: Int)
    case down
}
