import ParCredentials
import Testing

@Suite struct JWKThumbprintTests {
    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    @Test func rfc7638_3_1_exampleKeyHasTheExampleThumbprint() throws {
        let key = try #require(JSONObject(parsing: Array(#"""
            {"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}
            """#.utf8)))
        #expect(JWKThumbprint.sha256(key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test func unknownKeyTypesAndMissingMembersHaveNoThumbprint() throws {
        #expect(JWKThumbprint.sha256(JSONObject(["kty": "oct", "k": "AAAA"])) == nil)
        #expect(JWKThumbprint.sha256(JSONObject(["kty": "EC", "crv": "P-256", "x": "AAAA"])) == nil)
    }
}
