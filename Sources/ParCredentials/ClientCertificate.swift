import Crypto
import Foundation
public import ParCore
import SwiftASN1
import X509

/// A TLS client certificate forwarded by the proxy that terminated TLS (RFC 8705 behind a load balancer).
///
/// The header holds either an RFC 9440 `Client-Cert` value (`:base64 DER:`), base64 DER, or a URL-encoded PEM
/// (nginx `$ssl_client_escaped_cert`, AWS ALB). The proxy must have checked the TLS handshake (the client holds
/// the key) and, for `tls_client_auth`, the chain up to a trusted CA; this type only reads what it forwards.
public struct ClientCertificate: Sendable {
    let certificate: Certificate
    /// The DER encoding.
    public let der: [UInt8]

    public init?(headerValue: String) {
        var text = headerValue.trimmingCharacters(in: .whitespaces)
        if text.hasPrefix(":") && text.hasSuffix(":") && text.count > 2 { text = String(text.dropFirst().dropLast()) }
        if text.contains("%") { text = text.removingPercentEncoding ?? text }
        let der: [UInt8]
        if text.contains("-----BEGIN CERTIFICATE-----") {
            guard let pem = try? PEMDocument(pemString: text), pem.discriminator == "CERTIFICATE" else { return nil }
            der = pem.derBytes
        } else {
            guard let decoded = Data(base64Encoded: text) else { return nil }
            der = Array(decoded)
        }
        guard let certificate = try? Certificate(derEncoded: der) else { return nil }
        self.certificate = certificate
        self.der = der
    }

    /// `x5t#S256`: base64url SHA-256 of the DER (RFC 8705 §3.1).
    public var thumbprint: String { Secret.base64URL(Array(SHA256.hash(data: der))) }

    /// Whether the certificate is the one `binding` names for `method`.
    public func matches(_ binding: CertificateBinding, method: ClientAuthMethod) -> Bool {
        switch method {
        case .selfSignedTLSClientAuth:
            // RFC 8705 §2.2: the certificate itself is registered; compared by thumbprint.
            let mine = Array(thumbprint.utf8)
            return binding.thumbprints.contains { Secret.constantTimeEquals(Array($0.utf8), mine) }
        case .tlsClientAuth:
            // RFC 8705 §2.1.2: exactly one subject rule is registered.
            if let dn = binding.subjectDN { return Self.normalizedDN(dn) == Self.normalizedDN(certificate.subject.description) }
            let names = (try? certificate.extensions.subjectAlternativeNames).map { Array($0) } ?? []
            return names.contains { name in
                switch name {
                case .dnsName(let value): binding.sanDNS.map { $0.lowercased() == value.lowercased() } ?? false
                case .uniformResourceIdentifier(let value): binding.sanURI == value
                case .rfc822Name(let value): binding.sanEmail.map { $0.lowercased() == value.lowercased() } ?? false
                case .ipAddress(let octets): binding.sanIP.map { ParCore.IPAddress.bytes($0) == Array(octets.bytes) } ?? false
                default: false
                }
            }
        default:
            return false
        }
    }

    /// An RFC 4514 DN as comparable attribute pairs: types upper-cased, spaces around separators dropped,
    /// values compared without case (the caseIgnoreMatch of most naming attributes).
    static func normalizedDN(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var escaped = false
        for character in text {
            if escaped {
                current.append(character)
                escaped = false
            } else if character == "\\" {
                current.append(character)
                escaped = true
            } else if character == "," || character == "+" {
                parts.append(current)
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current)
        return parts.map { part in
            let pieces = part.split(separator: "=", maxSplits: 1)
            let type = pieces.first.map { $0.trimmingCharacters(in: .whitespaces).uppercased() } ?? ""
            let value = pieces.count > 1 ? pieces[1].trimmingCharacters(in: .whitespaces).lowercased() : ""
            return type + "=" + value
        }
    }
}
