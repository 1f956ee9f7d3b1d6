import Crypto
import CryptoExtras
public import Foundation
import ParCore
import SwiftASN1
import X509

/// A client's signing key, made in the test; signs compact JWS itself (not with the library ParStore verifies
/// with), so that headers and claims can be anything a hostile client would send.
public struct TestKey: Sendable {
    public enum Algorithm: String, Sendable, CaseIterable { case es256 = "ES256", rs256 = "RS256", ps256 = "PS256", eddsa = "EdDSA" }

    public let algorithm: Algorithm
    public let kid: String
    private let p256: P256.Signing.PrivateKey?
    private let ed25519: Curve25519.Signing.PrivateKey?
    private let rsa: _RSA.Signing.PrivateKey?

    public init(_ algorithm: Algorithm, kid: String = UUID().uuidString) throws {
        self.algorithm = algorithm
        self.kid = kid
        p256 = algorithm == .es256 ? P256.Signing.PrivateKey() : nil
        ed25519 = algorithm == .eddsa ? Curve25519.Signing.PrivateKey() : nil
        rsa = (algorithm == .rs256 || algorithm == .ps256) ? try _RSA.Signing.PrivateKey(keySize: .bits2048) : nil
    }

    /// The public JWK.
    public var publicJWK: [String: String] {
        var jwk: [String: String] = ["kid": kid]
        if let p256 {
            let raw = Array(p256.publicKey.rawRepresentation)
            jwk.merge(["kty": "EC", "crv": "P-256", "x": Secret.base64URL(Array(raw[0..<32])), "y": Secret.base64URL(Array(raw[32...]))]) { $1 }
        } else if let ed25519 {
            jwk.merge(["kty": "OKP", "crv": "Ed25519", "x": Secret.base64URL(Array(ed25519.publicKey.rawRepresentation))]) { $1 }
        } else if let rsa, let primitives = try? rsa.publicKey.getKeyPrimitives() {
            jwk.merge(["kty": "RSA", "n": Secret.base64URL(Array(primitives.modulus)), "e": Secret.base64URL(Array(primitives.publicExponent))]) {
                $1
            }
        }
        return jwk
    }

    /// A JWKS document holding `keys`' public keys.
    public static func jwks(_ keys: [TestKey]) -> String {
        let data = try! JSONSerialization.data(withJSONObject: ["keys": keys.map(\.publicJWK)], options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// A compact JWS of `claims` with `header` (alg and kid added unless given).
    public func sign(_ claims: [String: Any], header: [String: Any] = [:]) -> String {
        sign(rawClaims: String(decoding: try! JSONSerialization.data(withJSONObject: claims, options: [.sortedKeys]), as: UTF8.self), header: header)
    }

    /// A compact JWS whose claims set is `rawClaims` exactly as written (escapes a JSON writer would not produce).
    public func sign(rawClaims: String, header: [String: Any] = [:]) -> String {
        var fullHeader: [String: Any] = ["alg": algorithm.rawValue, "kid": kid]
        fullHeader.merge(header) { $1 }
        let input = Self.part(fullHeader) + "." + Secret.base64URL(Array(rawClaims.utf8))
        let bytes = Array(input.utf8)
        let signature: [UInt8]
        switch algorithm {
        case .es256: signature = Array(try! p256!.signature(for: bytes).rawRepresentation)
        case .eddsa: signature = Array(try! ed25519!.signature(for: bytes))
        case .rs256: signature = Array(try! rsa!.signature(for: bytes, padding: .insecurePKCS1v1_5).rawRepresentation)
        case .ps256: signature = Array(try! rsa!.signature(for: bytes, padding: .PSS).rawRepresentation)
        }
        return input + "." + Secret.base64URL(signature)
    }

    public static func part(_ object: [String: Any]) -> String {
        Secret.base64URL(Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])))
    }
}

/// A self-signed client certificate, as a TLS-terminating proxy would forward it (RFC 9440 `:base64 DER:`).
public struct TestCertificate: Sendable {
    public let der: [UInt8]
    public let subjectDN: String

    public init(commonName: String, organization: String = "Example Bank") throws {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            CountryName("DE")
            OrganizationName(organization)
            CommonName(commonName)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-60),
            notValidAfter: now.addingTimeInterval(3600),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: Certificate.Extensions {
                SubjectAlternativeNames([.dnsName("\(commonName).clients.example.com")])
            },
            issuerPrivateKey: .init(key)
        )
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        der = serializer.serializedBytes
        subjectDN = "CN=\(commonName), O=\(organization), C=DE"
    }

    public var headerValue: String { ":" + Data(der).base64EncodedString() + ":" }
    public var thumbprint: String { Secret.base64URL(Array(SHA256.hash(data: der))) }
}
