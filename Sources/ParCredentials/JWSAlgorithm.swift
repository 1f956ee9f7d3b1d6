import Foundation
import JWTKit
public import ParCore

/// The JWS algorithms ParStore verifies: client assertions, request objects and DPoP proofs (RFC 7518, RFC 8037).
/// Only asymmetric ones: `none` and the HMAC algorithms are never accepted.
public enum JWSAlgorithm: String, Sendable, CaseIterable {
    case rs256 = "RS256"
    case ps256 = "PS256"
    case es256 = "ES256"
    case eddsa = "EdDSA"

    /// The names, as metadata lists them.
    public static var names: [String] { allCases.map(\.rawValue) }

    /// What FAPI 2.0 §5.4.1 allows: PS256, ES256 or EdDSA; never RS256 (PKCS#1 v1.5).
    public static let fapi2: [JWSAlgorithm] = [.ps256, .es256, .eddsa]

    /// The algorithms a client's JWTs (assertions, request objects, DPoP proofs) may use under its profile.
    public static func allowed(for profile: ClientProfile) -> [JWSAlgorithm] {
        profile == .fapi2 ? fapi2 : allCases
    }

    /// Whether a JWK (`kty`, `crv`) can verify this algorithm.
    func fits(_ key: JSONObject) -> Bool {
        switch self {
        case .rs256, .ps256:
            // RSA keys shorter than 2048 bits are refused (RFC 7518 §3.3, FAPI 2.0 §5.4).
            guard key.string("kty") == "RSA", let modulus = key.string("n").flatMap({ Secret.bytes(fromBase64URL: $0) }) else { return false }
            return modulus.drop(while: { $0 == 0 }).count >= 256
        case .es256: return key.string("kty") == "EC" && key.string("crv") == "P-256"
        case .eddsa: return key.string("kty") == "OKP" && key.string("crv") == "Ed25519"
        }
    }
}
