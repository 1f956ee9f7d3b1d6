/// A cluster's redirection of a command to another node.
struct Redirection: Equatable {
    enum Kind { case moved, ask }
    var kind: Kind
    var slot: Int
    var address: RedisAddress

    /// Reads `MOVED <slot> <host:port>` or `ASK <slot> <host:port>`; `nil` for any other error.
    init?(_ message: String) {
        let words = message.split(separator: " ")
        guard words.count == 3, let slot = Int(words[1]), (0..<HashSlot.count).contains(slot), let address = RedisAddress(words[2])
        else { return nil }
        switch words[0] {
        case "MOVED": kind = .moved
        case "ASK": kind = .ask
        default: return nil
        }
        self.slot = slot
        self.address = address
    }
}
