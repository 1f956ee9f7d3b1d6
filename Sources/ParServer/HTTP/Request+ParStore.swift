import Foundation
import Hummingbird
import ParCore

extension Request {
    /// The body, or 413 when it is larger than `limit` bytes (checked on `Content-Length` first).
    func collectBody(upTo limit: Int) async throws -> [UInt8] {
        if let length = headers[.contentLength].flatMap({ Int($0) }), length > limit {
            throw OAuthError(.invalidRequest, "The request body is larger than \(limit) bytes.", status: 413)
        }
        do {
            let buffer = try await body.collect(upTo: limit)
            return Array(buffer.readableBytesView)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw OAuthError(.invalidRequest, "The request body is larger than \(limit) bytes.", status: 413)
        }
    }

    /// Whether the media type (without parameters) is `expected`, compared case-insensitively.
    func hasMediaType(_ expected: String) -> Bool {
        guard let value = headers[.contentType] else { return false }
        let mediaType = value.split(separator: ";", maxSplits: 1).first?.trimmingHTTPWhitespace ?? ""
        return mediaType.lowercased() == expected
    }

    /// The value of a cookie, from every `Cookie` header.
    func cookieValue(named name: String) -> Substring? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                if let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name {
                    return trimmed[trimmed.index(after: equals)...]
                }
            }
        }
        return nil
    }
}
