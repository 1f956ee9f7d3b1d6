import Foundation

/// Where the code reads the time of day (seconds since 1970): JWT windows, request_uri days. The system's in a
/// node; a set one in tests. (Deadlines and rates use the monotonic `ContinuousClock` instead.)
public protocol WallClock: Sendable {
    var secondsSince1970: Double { get }
}

/// The system's time of day.
public struct SystemWallClock: WallClock {
    public init() {}
    public var secondsSince1970: Double { Date().timeIntervalSince1970 }
}

/// The system's time of day moved by a fixed offset: a node whose clock is off, in tests.
public struct OffsetWallClock: WallClock {
    public let offset: Double
    public init(offset: Double) { self.offset = offset }
    public var secondsSince1970: Double { Date().timeIntervalSince1970 + offset }
}
