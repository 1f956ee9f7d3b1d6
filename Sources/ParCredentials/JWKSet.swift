import Foundation
import JWTKit
import ParCore

/// A client's registered JWKS (RFC 7517 §5), as JWK objects.
public enum JWKSet {
    /// The keys of a JWKS document; `nil` when it is not one.
    public static func keys(_ text: String) -> [JSONObject]? {
        guard let document = JSONObject(parsing: Array(text.utf8)), let keys = document.members["keys"] as? [Any] else { return nil }
        let objects = keys.compactMap { ($0 as? [String: Any]).map(JSONObject.init) }
        return objects.count == keys.count ? objects : nil
    }

    /// Checks a JWKS for registration: public signing keys ParStore can use, no private members.
    ///
    /// - Returns: a sentence naming the problem, or `nil` when the set is usable.
    public static func problem(_ text: String) -> String? {
        guard let keys = keys(text), !keys.isEmpty else { return "the JWKS must be a JSON object with a non-empty keys array" }
        for key in keys {
            if ["d", "p", "q", "dp", "dq", "qi", "k"].contains(where: key.contains) {
                return "the JWKS must hold public keys only (a key has private members)"
            }
            guard JWSAlgorithm.allCases.contains(where: { $0.fits(key) }) else {
                return "every key must be RSA (2048 bits or more), EC P-256 or OKP Ed25519"
            }
        }
        return nil
    }
}
