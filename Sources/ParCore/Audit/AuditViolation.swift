/// A broken invariant of ARCHITECTURE §3, found by replaying the log.
public struct AuditViolation: Sendable, Codable, Equatable {
    public enum Rule: String, Sendable, Codable {
        case noPushedEvent = "no_pushed_event"
        case duplicatePushed = "duplicate_pushed"
        case multipleTerminal = "multiple_terminal"
        case multipleLoaded = "multiple_loaded"
        case loadedByOtherClient = "loaded_by_other_client"
        case loadedAfterDeadline = "loaded_after_deadline"
        case consumedWithoutTicket = "consumed_without_ticket"
        case consumedByOtherClient = "consumed_by_other_client"
        case consumedAfterDeadline = "consumed_after_deadline"
        case expiredBeforeDeadline = "expired_before_deadline"
        case loadedAfterTerminal = "loaded_after_terminal"
        case missingTerminal = "missing_terminal"
    }

    public var requestID: String
    public var rule: Rule
}
