import Foundation
import ParCore
import Testing

@Suite struct AuditorTests {
    private func event(_ id: String, _ kind: EventKind, _ client: String = "c", at: Double, deadline: Double = 100) -> AuditEvent {
        AuditEvent(requestID: id, kind: kind, clientID: client, at: at, deadline: deadline)
    }

    @Test func aCleanLogHasNoViolationsAndReportsLatencies() {
        var auditor = Auditor(settle: 30, now: 1000)
        auditor.replay(request: [event("a", .pushed, at: 10), event("a", .consumed, at: 12)])
        auditor.replay(request: [event("b", .pushed, at: 20), event("b", .refused, "x", at: 21), event("b", .consumed, at: 24)])
        auditor.replay(request: [event("c", .pushed, at: 30), event("c", .expired, at: 140)])
        auditor.replay(request: [event("d", .pushed, at: 990, deadline: 1050)])
        let report = auditor.report()
        #expect(report.violations.isEmpty)
        #expect(report.requests == 4)
        #expect(report.events["pushed"] == 4)
        #expect(report.events["consumed"] == 2)
        #expect(report.pushToRedeem?.count == 2)
        #expect(report.pushToRedeem?.p50 == 2)
        #expect(report.pushToRedeem?.max == 4)
    }

    @Test func eachBrokenInvariantNamesItsRequest() {
        var auditor = Auditor(settle: 30, now: 1000)
        auditor.replay(request: [event("orphan", .consumed, at: 10)])
        auditor.replay(request: [event("twice", .pushed, at: 10), event("twice", .pushed, at: 11), event("twice", .consumed, at: 12)])
        auditor.replay(request: [event("both", .pushed, at: 10), event("both", .consumed, at: 12), event("both", .expired, at: 140)])
        auditor.replay(request: [event("thief", .pushed, at: 10), event("thief", .consumed, "mallory", at: 12)])
        auditor.replay(request: [event("late", .pushed, at: 10), event("late", .consumed, at: 101)])
        auditor.replay(request: [event("early", .pushed, at: 10), event("early", .expired, at: 99)])
        auditor.replay(request: [event("open", .pushed, at: 10)])
        let found = auditor.report().violations.map { "\($0.rule.rawValue) \($0.requestID)" }
        #expect(
            found == [
                "no_pushed_event orphan", "duplicate_pushed twice", "multiple_terminal both", "consumed_by_other_client thief",
                "consumed_after_deadline late", "expired_before_deadline early", "missing_terminal open",
            ]
        )
    }
}

@Suite struct JSONTextTests {
    @Test func escapesPerRFC8259() {
        #expect(JSONText.string("a\"b\\c\n\u{1}é") == #""a\"b\\c\n\u0001é""#)
        #expect(JSONText.object([(name: "x", value: "1"), (name: "y", value: "")]) == #"{"x":"1","y":""}"#)
    }
}
