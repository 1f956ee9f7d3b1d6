import Crypto
import Foundation

/// A `c2sp.org/signed-note`: a text and the lines that sign it, `— <key name> <base64(key ID ‖ signature)>`.
public struct SignedNote: Sendable, Equatable {
    /// The signed text; it ends in a newline.
    public var text: String
    public var signatures: [Signature]

    public struct Signature: Sendable, Equatable {
        public var keyName: String
        /// Key ID (4 bytes) then the signature.
        public var bytes: [UInt8]
    }

    /// Reads a note: the text, a blank line, then one or more signature lines.
    public init?(_ note: String) {
        guard note.hasSuffix("\n"), let split = note.range(of: "\n\n", options: .backwards) else { return nil }
        let text = String(note[..<split.lowerBound]) + "\n"
        var signatures: [Signature] = []
        for line in note[split.upperBound...].dropLast().split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("\u{2014} ") else { return nil }
            let parts = line.dropFirst(2).split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, NoteKeyName.isValid(parts[0]), let bytes = Data(base64Encoded: String(parts[1])), bytes.count > 4
            else { return nil }
            signatures.append(Signature(keyName: String(parts[0]), bytes: Array(bytes)))
        }
        guard !signatures.isEmpty, !text.contains("\n\n") else { return nil }
        self.text = text
        self.signatures = signatures
    }

    init(text: String, signatures: [Signature]) {
        self.text = text
        self.signatures = signatures
    }

    /// The note as sent: text, blank line, signature lines.
    public var encoded: String {
        text + "\n" + signatures.map { "\u{2014} \($0.keyName) \(Data($0.bytes).base64EncodedString())\n" }.joined()
    }
}

enum NoteKeyName {
    /// A key name is non-empty UTF-8 with neither spaces nor `+`.
    static func isValid(_ name: some StringProtocol) -> Bool {
        !name.isEmpty && !name.contains("+") && !name.unicodeScalars.contains { $0.properties.isWhitespace || $0.value < 0x20 }
    }

    /// SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key), first 4 bytes: the Ed25519 key ID.
    static func keyID(name: String, publicKey: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: Array(name.utf8) + [0x0A, 0x01] + publicKey).prefix(4))
    }
}

/// The log's Ed25519 signing key with its name (the checkpoints' origin), in the signed-note key format:
/// `PRIVATE+KEY+<name>+<key ID in hex>+<base64(0x01 ‖ 32-byte seed)>`.
public struct NoteSigner: Sendable {
    public let name: String
    private let key: Curve25519.Signing.PrivateKey

    /// A new random key.
    public init?(generatingFor name: String) {
        guard NoteKeyName.isValid(name) else { return nil }
        self.name = name
        self.key = Curve25519.Signing.PrivateKey()
    }

    /// Reads an encoded key (surrounding whitespace ignored).
    public init?(encoded: String) {
        let parts = encoded.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY", NoteKeyName.isValid(parts[2]),
            let raw = Data(base64Encoded: String(parts[4])), raw.count == 33, raw.first == 0x01,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw.dropFirst())
        else { return nil }
        self.name = String(parts[2])
        self.key = key
        guard parts[3].lowercased() == Secret.hex(keyID) else { return nil }
    }

    private var keyID: [UInt8] { NoteKeyName.keyID(name: name, publicKey: Array(key.publicKey.rawRepresentation)) }

    /// The encoded private key, for the key file.
    public var encoded: String {
        "PRIVATE+KEY+\(name)+\(Secret.hex(keyID))+" + Data([0x01] + Array(key.rawRepresentation)).base64EncodedString()
    }

    /// The key that checks this signer's notes.
    public var verifier: NoteVerifier {
        NoteVerifier(name: name, publicKey: key.publicKey)
    }

    /// Signs `text` (which must end in a newline and hold no blank line).
    public func sign(_ text: String) throws -> SignedNote {
        precondition(text.hasSuffix("\n") && !text.contains("\n\n"), "a note's text ends in a newline and has no blank line")
        let signature = try key.signature(for: Array(text.utf8))
        return SignedNote(text: text, signatures: [SignedNote.Signature(keyName: name, bytes: keyID + Array(signature))])
    }
}

/// The public half: `<name>+<key ID in hex>+<base64(0x01 ‖ 32-byte public key)>`, what `parstore log public-key`
/// prints and auditors keep.
public struct NoteVerifier: Sendable {
    public let name: String
    private let publicKey: Curve25519.Signing.PublicKey

    init(name: String, publicKey: Curve25519.Signing.PublicKey) {
        self.name = name
        self.publicKey = publicKey
    }

    /// Reads an encoded verifier key.
    public init?(encoded: String) {
        let parts = encoded.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "+", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, NoteKeyName.isValid(parts[0]),
            let raw = Data(base64Encoded: String(parts[2])), raw.count == 33, raw.first == 0x01,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw.dropFirst())
        else { return nil }
        self.init(name: String(parts[0]), publicKey: key)
        guard parts[1].lowercased() == Secret.hex(keyID) else { return nil }
    }

    private var keyID: [UInt8] { NoteKeyName.keyID(name: name, publicKey: Array(publicKey.rawRepresentation)) }

    public var encoded: String {
        "\(name)+\(Secret.hex(keyID))+" + Data([0x01] + Array(publicKey.rawRepresentation)).base64EncodedString()
    }

    /// Whether `note` carries a valid signature by this key (the first line with this key's name and ID decides).
    public func verifies(_ note: SignedNote) -> Bool {
        let id = keyID
        guard let signature = note.signatures.first(where: { $0.keyName == name && Array($0.bytes.prefix(4)) == id }) else {
            return false
        }
        return publicKey.isValidSignature(Array(signature.bytes.dropFirst(4)), for: Array(note.text.utf8))
    }
}
