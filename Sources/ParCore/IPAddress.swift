import Foundation

/// IP addresses in text form (certificate SANs, trusted proxy ranges).
public enum IPAddress {
    /// The 4 (IPv4) or 16 (IPv6) bytes of an address in text form; `nil` when it is neither.
    public static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}
