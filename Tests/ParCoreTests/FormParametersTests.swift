import Foundation
import ParCore
import Testing

@Suite struct FormParametersTests {
    private func parse(_ text: String, limits: FormLimits = FormLimits()) throws(OAuthError) -> FormParameters {
        try FormParameters(parsing: Array(text.utf8), limits: limits)
    }

    @Test func decodesPlusAndPercentEscapesInOrder() throws {
        let form = try parse("b=x+y&a=%C3%A9t%C3%A9&c=&d&e=1%3D2%261")
        #expect(form.pairs.map(\.name) == ["b", "a", "c", "d", "e"])
        #expect(form.pairs.map(\.value) == ["x y", "été", "", "", "1=2&1"])
    }

    @Test func skipsEmptySegments() throws {
        #expect(try parse("&a=1&&b=2&").pairs.count == 2)
        #expect(try parse("").pairs.isEmpty)
    }

    @Test(arguments: ["a=%zz", "a=%4", "a=%", "a=%g1"]) func rfc3986_2_1_rejectsMalformedPercentEscapes(_ body: String) {
        #expect(throws: OAuthError.self) { try parse(body) }
    }

    @Test func rfc9126_2_rejectsBytesThatAreNotUTF8() {
        #expect(throws: OAuthError.invalidRequest("The body is not valid UTF-8.")) { try parse("a=%ff") }
        #expect(throws: OAuthError.self) { try FormParameters(parsing: [UInt8(ascii: "a"), UInt8(ascii: "="), 0xc3, 0x28]) }
    }

    @Test func rejectsNULAndEmptyNames() {
        #expect(throws: OAuthError.invalidRequest("The body contains a NUL character.")) { try parse("a=x%00y") }
        #expect(throws: OAuthError.invalidRequest("A parameter has an empty name.")) { try parse("=x") }
    }

    @Test func enforcesCountAndLengthLimitsWithoutEchoingValues() {
        let limits = FormLimits(maxParameters: 3, maxNameLength: 8, maxValueLength: 10)
        #expect(throws: OAuthError.self) { try parse("a=1&b=2&c=3&d=4", limits: limits) }
        #expect(throws: OAuthError.self) { try parse("averylongname=1", limits: limits) }
        do {
            _ = try parse("a=secret-value-0123", limits: limits)
            Issue.record("expected a refusal")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(!error.description.contains("secret-value"))
        }
    }

    @Test func rfc6749_3_1_singleRefusesRepeatedParameters() throws {
        let form = try parse("a=1&a=2&b=3")
        #expect(throws: OAuthError.self) { try form.single("a") }
        #expect(try form.single("b") == "3")
        #expect(try form.single("c") == nil)
        #expect(form.repeatedNames == ["a"])
    }
}
