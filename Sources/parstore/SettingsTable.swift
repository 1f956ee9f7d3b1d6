import ArgumentParser
import ParServer

/// `parstore settings`: the README's table of `serve` settings, printed from their declarations (``NodeSettings``).
struct SettingsTable: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Print every setting of serve (variable, flag, default, meaning) as the README's Markdown table."
    )

    func run() {
        print(NodeSettings.markdownTable, terminator: "")
    }
}
