import Foundation

/// One setting of `parstore serve`, declared once: its flag, its `PARSTORE_*` environment variable, what it means,
/// its default, and how its text becomes part of a ``NodeConfiguration``. `serve --help`, the README's table
/// (`parstore settings`) and the parsing all follow from the declarations in ``NodeSettings``.
public struct NodeSetting: Sendable {
    /// The part of the configuration a setting belongs to, in the order the README lists them.
    public enum Section: String, Sendable, CaseIterable {
        case stores, listener, oauth = "OAuth", lifetimes, limits, security, data, log, process
    }

    /// How a setting's text is applied; it throws the requirement it failed, completed with the setting's names.
    public typealias Apply = @Sendable (inout NodeConfiguration, String) throws(Requirement) -> Void

    /// What a setting's text must be, when it is not.
    public struct Requirement: Error {
        public var text: String
        public init(_ text: String) { self.text = text }
    }

    /// The name of the `parstore serve` property that holds the flag.
    public let key: String
    /// The long flag, without its dashes.
    public let flag: String
    /// The environment variable.
    public let variable: String
    public let section: Section
    /// What it does, for `--help` and the README.
    public let meaning: String
    /// The default, in words.
    public let defaultValue: String
    /// Whether it may carry a password: it can also be read from the file named by `<variable>_FILE` or
    /// `--<flag>-file`, which `ps` does not show.
    public let isSecret: Bool
    /// `nil` for settings of the process rather than the node (data folder, log level).
    let assign: Apply?

    init(
        _ key: String,
        flag: String,
        variable: String? = nil,
        _ section: Section,
        _ meaning: String,
        default defaultValue: String,
        secret: Bool = false,
        apply: Apply?
    ) {
        self.key = key
        self.flag = flag
        self.variable = variable ?? "PARSTORE_" + flag.uppercased().replacing("-", with: "_")
        self.section = section
        self.meaning = meaning
        self.defaultValue = defaultValue
        self.isSecret = secret
        self.assign = apply
    }

    /// The text of `serve --help`.
    public var help: String { "\(meaning) Env: \(variable). Default: \(defaultValue).".replacing("`", with: "") }

    /// The `--<flag>-file` twin of a secret.
    public var fileFlag: String { flag + "-file" }
    /// The `<variable>_FILE` twin of a secret.
    public var fileVariable: String { variable + "_FILE" }
    public var fileHelp: String { "File holding the value of \(variable) (kept out of ps). Env: \(fileVariable)." }

    /// Applies the setting's text to `configuration`.
    ///
    /// - Throws: ``ConfigurationError`` naming the flag and the variable, when the text is not a value of the setting.
    public func apply(_ text: String, to configuration: inout NodeConfiguration) throws(ConfigurationError) {
        do {
            try assign?(&configuration, text)
        } catch {
            throw ConfigurationError("\(variable) (--\(flag)) \(error.text)")
        }
    }
}

// MARK: - How texts become values

extension NodeSetting {
    static func text(_ keyPath: any WritableKeyPath<NodeConfiguration, String> & Sendable) -> Apply {
        { configuration, text throws(Requirement) in configuration[keyPath: keyPath] = text }
    }

    static func optionalText(_ keyPath: any WritableKeyPath<NodeConfiguration, String?> & Sendable) -> Apply {
        { configuration, text throws(Requirement) in configuration[keyPath: keyPath] = text }
    }

    /// An integer; out of `Int`'s range is refused like any other non-integer.
    static func integer(_ keyPath: any WritableKeyPath<NodeConfiguration, Int> & Sendable) -> Apply {
        { configuration, text throws(Requirement) in
            guard let number = Int(text) else { throw Requirement("must be an integer") }
            configuration[keyPath: keyPath] = number
        }
    }

    /// Whole seconds.
    static func wholeSeconds(_ keyPath: any WritableKeyPath<NodeConfiguration, Duration> & Sendable) -> Apply {
        { configuration, text throws(Requirement) in
            guard let seconds = Int64(text), seconds >= 0, seconds <= 1_000_000 else {
                throw Requirement("must be a whole number of seconds between 0 and 1000000")
            }
            configuration[keyPath: keyPath] = .seconds(seconds)
        }
    }

    /// Seconds, fractions allowed, checked before any conversion: finite, 0 to 1e6.
    static func seconds(_ keyPath: any WritableKeyPath<NodeConfiguration, Duration> & Sendable) -> Apply {
        { configuration, text throws(Requirement) in
            let seconds = try number(text, unit: "seconds")
            configuration[keyPath: keyPath] = .milliseconds(Int64((seconds * 1000).rounded()))
        }
    }

    /// Milliseconds, fractions allowed, checked before any conversion: finite, 0 to 1e6.
    static func milliseconds(_ keyPath: any WritableKeyPath<NodeConfiguration, Duration> & Sendable) -> Apply {
        { configuration, text throws(Requirement) in
            let milliseconds = try number(text, unit: "milliseconds")
            configuration[keyPath: keyPath] = .microseconds(Int64((milliseconds * 1000).rounded()))
        }
    }

    static func boolean(_ keyPath: any WritableKeyPath<NodeConfiguration, Bool?> & Sendable) -> Apply {
        { configuration, text throws(Requirement) in
            switch text.lowercased() {
            case "true", "1", "yes", "on": configuration[keyPath: keyPath] = true
            case "false", "0", "no", "off": configuration[keyPath: keyPath] = false
            default: throw Requirement("must be true or false")
            }
        }
    }

    /// Comma-separated values, blanks around them dropped.
    static func list(_ keyPath: any WritableKeyPath<NodeConfiguration, [String]> & Sendable) -> Apply {
        { configuration, text throws(Requirement) in
            configuration[keyPath: keyPath] = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    private static func number(_ text: String, unit: String) throws(Requirement) -> Double {
        guard let number = Double(text), number.isFinite, number >= 0, number <= 1_000_000 else {
            throw Requirement("must be a number of \(unit) between 0 and 1000000")
        }
        return number
    }
}
