import ArgumentParser
import Foundation
import ParServer

/// Where a setting comes from: the flag, else the `PARSTORE_*` environment variable, else the default. The
/// only place that reads the environment.
enum Settings {
    static func value(_ flag: String?, _ variable: String) -> String? {
        if let flag, !flag.isEmpty { return flag }
        if let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty { return value }
        return nil
    }

    /// A secret: the flag, else the environment variable, else the file named by the flag `file` or by the
    /// variable's `_FILE` twin (trailing line breaks dropped). Flags show in `ps`; variables and files do not.
    static func secret(_ flag: String?, file: String?, _ variable: String) throws -> String? {
        if let value = value(flag, variable) { return value }
        guard let path = value(file, variable + "_FILE") else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("\(variable)_FILE names a file that cannot be read")
        }
        var text = String(decoding: data, as: UTF8.self)
        while text.last == "\n" || text.last == "\r" { text.removeLast() }
        guard !text.isEmpty else { throw ValidationError("\(variable)_FILE names an empty file") }
        return text
    }
}

/// The database connection options shared by the commands that need only PostgreSQL.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong(NodeSettings.databaseURL.flag), help: "PostgreSQL URL or connection string. Env: \(NodeSettings.databaseURL.variable).")
    var databaseURL: String?
    @Option(name: .customLong(NodeSettings.databaseURL.fileFlag), help: ArgumentHelp(NodeSettings.databaseURL.fileHelp))
    var databaseURLFile: String?

    func resolved() throws -> String {
        guard let url = try Settings.secret(databaseURL, file: databaseURLFile, NodeSettings.databaseURL.variable) else {
            throw ValidationError("no database: pass --database-url or set PARSTORE_DATABASE_URL")
        }
        return url
    }
}
