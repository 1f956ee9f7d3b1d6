import Foundation

/// The OpenID Connect Core 1.0 §3.1.2.1 parameters a PAR may carry, checked for form; the authorization server
/// acts on them later.
public enum OpenIDParameters {
    static let prompts: Set<Substring> = ["none", "login", "consent", "select_account", "create"]
    static let displays: Set<String> = ["page", "popup", "touch", "wap"]
    /// The `response_mode` values accepted with `code` (OAuth 2.0 Multiple Response Type Encoding Practices, Form
    /// Post, JARM); the metadata publishes them.
    public static let responseModes: Set<String> = ["query", "fragment", "form_post", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt"]

    static func check(_ parameters: [String: String]) throws(OAuthError) {
        if let prompt = parameters["prompt"] {
            let values = prompt.split(separator: " ", omittingEmptySubsequences: false)
            guard values.allSatisfy(prompts.contains), Set(values).count == values.count else {
                throw .invalidRequest("The prompt parameter has an unknown or repeated value.")
            }
            // OIDC Core §3.1.2.1: none must not be combined with another value.
            if values.contains("none") && values.count > 1 {
                throw .invalidRequest("The prompt value none cannot be combined with other values.")
            }
        }
        if let maxAge = parameters["max_age"] {
            guard !maxAge.isEmpty, maxAge.utf8.count <= 10, maxAge.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw .invalidRequest("The max_age parameter must be a non-negative integer number of seconds.")
            }
        }
        if let display = parameters["display"], !displays.contains(display) {
            throw .invalidRequest("The display parameter has an unknown value.")
        }
        if let mode = parameters["response_mode"], !responseModes.contains(mode) {
            throw .invalidRequest("The response_mode parameter has an unknown value.")
        }
        if let locales = parameters["ui_locales"] {
            // Space-separated BCP 47 language tags.
            let tags = locales.split(separator: " ", omittingEmptySubsequences: false)
            guard
                tags.allSatisfy({ tag in
                    !tag.isEmpty
                        && tag.utf8.allSatisfy {
                            $0 == UInt8(ascii: "-") || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0)
                        }
                })
            else {
                throw .invalidRequest("The ui_locales parameter must be space-separated language tags.")
            }
        }
        if let acr = parameters["acr_values"], acr.split(separator: " ", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
            throw .invalidRequest("The acr_values parameter must be space-separated values.")
        }
        if let claims = parameters["claims"] {
            try checkClaims(claims)
        }
    }

    /// OIDC Core §5.5: a JSON object whose `userinfo` and `id_token` members are objects of claim requests,
    /// each `null` or an object.
    static func checkClaims(_ text: String) throws(OAuthError) {
        let refusal = OAuthError.invalidRequest("The claims parameter must be a JSON object of claim requests (OpenID Connect §5.5).")
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { throw refusal }
        for member in ["userinfo", "id_token"] {
            guard let requests = object[member] else { continue }
            guard let claims = requests as? [String: Any] else { throw refusal }
            for request in claims.values where !(request is NSNull) && !(request is [String: Any]) {
                throw refusal
            }
        }
    }
}
