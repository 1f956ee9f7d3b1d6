import Crypto
import Foundation
public import ParCore

/// Server-provided DPoP nonces (RFC 9449 §8) that every node can check without shared state: a time slot and
/// an HMAC of it under a key all nodes derive from the same secret. A nonce is accepted during its slot and the
/// next, so it lives between one and two slots.
public struct DPoPNonces: Sendable {
    private let key: SymmetricKey
    /// The length of a slot, in seconds.
    public let slot: Int64

    /// - Parameter secret: a secret all nodes share (the backend API key); the nonce key is derived from it.
    public init(secret: String, slot: Int64 = 300) {
        self.key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(secret.utf8)),
            info: Array("parstore dpop nonce v1".utf8),
            outputByteCount: 32
        )
        self.slot = slot
    }

    /// The nonce to hand out at time `now` (seconds since 1970).
    public func current(now: Double) -> String { nonce(forSlot: Int64(now) / slot) }

    /// Whether `nonce` was handed out during this slot or the previous one.
    public func isValid(_ nonce: String, now: Double) -> Bool {
        let slot = Int64(now) / slot
        return [slot, slot - 1].contains { Secret.constantTimeEquals(Array(nonce.utf8), Array(self.nonce(forSlot: $0).utf8)) }
    }

    private func nonce(forSlot slot: Int64) -> String {
        let counter = withUnsafeBytes(of: slot.bigEndian, Array.init)
        let mac = HMAC<SHA256>.authenticationCode(for: counter, using: key)
        return Secret.base64URL(counter + Array(mac).prefix(16))
    }
}

/// Verifies a DPoP proof sent to the PAR endpoint (RFC 9449 §4.3, §10.1).
public struct DPoPProofVerifier: Sendable {
    /// The URLs of the PAR endpoint (and its mTLS alias) a proof's `htu` may name, normalized.
    public let targets: Set<String>
    public let window: JWTTimeWindow
    /// When set, every proof must carry a current nonce.
    public let nonces: DPoPNonces?

    /// A verified proof.
    public struct Proof: Sendable, Equatable {
        /// The RFC 7638 thumbprint of the proof's key: the request's `dpop_jkt`.
        public let thumbprint: String
        /// The `jti`, to be used once.
        public let singleUse: SingleUse
    }

    public init(targets: [String], window: JWTTimeWindow = JWTTimeWindow(), nonces: DPoPNonces?) {
        self.targets = Set(targets.compactMap(Self.normalized))
        self.window = window
        self.nonces = nonces
    }

    /// - Parameters:
    ///   - headers: every `DPoP` header of the request.
    ///   - profile: the client's profile, which limits the algorithms (FAPI 2.0: no RS256).
    ///   - now: seconds since 1970.
    /// - Throws: 400 `invalid_dpop_proof`, or 400 `use_dpop_nonce` with a fresh nonce.
    public func verify(headers: [String], profile: ClientProfile = .standard, now: Double) async throws(OAuthError) -> Proof {
        func refuse(_ description: String) -> OAuthError { OAuthError(.invalidDPoPProof, description) }
        // RFC 9449 §4.3 check 1: exactly one DPoP header.
        guard headers.count == 1 else { throw refuse("Send exactly one DPoP header.") }
        let jws: CompactJWS
        do {
            jws = try CompactJWS(headers[0])
        } catch {
            throw refuse("The DPoP proof is not usable: " + error.description)
        }
        // Checks 4 to 7: typ, an asymmetric algorithm (CompactJWS accepts no other), a public jwk that verifies it.
        guard jws.header.string("typ") == "dpop+jwt" else { throw refuse("The DPoP proof's typ must be dpop+jwt.") }
        guard JWSAlgorithm.allowed(for: profile).contains(jws.algorithm) else {
            throw refuse("The DPoP proof must be signed with PS256, ES256 or EdDSA (FAPI 2.0).")
        }
        guard let key = jws.header.object("jwk") else { throw refuse("The DPoP proof has no jwk header.") }
        guard !["d", "p", "q", "dp", "dq", "qi", "k"].contains(where: key.contains) else {
            throw refuse("The DPoP proof's jwk must not contain a private key.")
        }
        guard let thumbprint = JWKThumbprint.sha256(key), await jws.isSigned(by: key) else {
            throw refuse("The DPoP proof's signature does not verify with its jwk.")
        }
        let claims = jws.claims
        // Check 3: the required claims. Checks 8 and 9: htm and htu.
        guard let jti = claims.string("jti"), !jti.isEmpty, jti.utf8.count <= 256 else {
            throw refuse("The DPoP proof needs a jti of at most 256 bytes.")
        }
        guard claims.string("htm") == "POST" else { throw refuse("The DPoP proof's htm must be POST.") }
        guard let target = claims.string("htu").flatMap(Self.normalized), targets.contains(target) else {
            throw refuse("The DPoP proof's htu must be the pushed authorization request endpoint URL.")
        }
        // Check 11: iat within the window.
        guard let issuedAt = claims.date("iat") else { throw refuse("The DPoP proof has no iat claim.") }
        guard issuedAt <= now + window.futureSkew, issuedAt >= now - window.maxAge else {
            throw refuse("The DPoP proof's iat is outside the accepted window.")
        }
        // Check 10: the server nonce, when required.
        if let nonces {
            guard let nonce = claims.string("nonce"), nonces.isValid(nonce, now: now) else {
                throw OAuthError(
                    .useDPoPNonce,
                    "The DPoP proof must carry the nonce given in the DPoP-Nonce header.",
                    dpopNonce: nonces.current(now: now)
                )
            }
        }
        // RFC 9449 §11.1: a jti is accepted once per target for as long as the proof would be accepted.
        return Proof(
            thumbprint: thumbprint,
            singleUse: SingleUse(
                namespace: "dpop",
                parts: [thumbprint, jti],
                acceptedUntil: issuedAt + window.maxAge,
                now: now,
                margin: window.futureSkew
            )
        )
    }

    /// RFC 9449 §4.3 check 9: `htu` compared without query and fragment, scheme and host case-insensitively,
    /// default ports dropped (RFC 3986 §6.2.2 and §6.2.3).
    static func normalized(_ uri: String) -> String? {
        guard var url = URLComponents(string: uri), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else {
            return nil
        }
        url.query = nil
        url.fragment = nil
        if (scheme == "https" && url.port == 443) || (scheme == "http" && url.port == 80) { url.port = nil }
        let port = url.port.map { ":\($0)" } ?? ""
        let path = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
        return "\(scheme)://\(host)\(port)\(path)"
    }
}
