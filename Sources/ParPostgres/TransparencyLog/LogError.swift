/// What stops the integrator or a log reader. Descriptions name positions and sizes, never event contents.
public enum LogError: Error, CustomStringConvertible, Equatable {
    /// The stored tree state does not decode.
    case corruptState
    /// A tile did not end where the integrated nodes said it should: the tree state and tiles disagree.
    case tilesOutOfStep
    /// A node the proof needs is not in the stored tiles.
    case missingNode(level: Int, index: UInt64)
    /// A row that no leaf can describe.
    case undecodableEvent(xid: String?, seq: String?)
    /// The new tree is not an extension of the last signed one: nothing is signed.
    case inconsistentWithCheckpoint(size: UInt64, newSize: UInt64)
    /// No leaf with that index (yet).
    case noSuchLeaf(UInt64)

    public var description: String {
        switch self {
        case .corruptState: "the log state does not decode"
        case .tilesOutOfStep: "the log's tiles and its state disagree"
        case .missingNode(let level, let index): "the log's tiles lack node \(index) of level \(level)"
        case .undecodableEvent(let xid, let seq): "event xid \(xid ?? "NULL") seq \(seq ?? "NULL") cannot be made a leaf"
        case .inconsistentWithCheckpoint(let size, let newSize):
            "the tree of \(newSize) leaves is not consistent with the signed checkpoint of \(size): not signing"
        case .noSuchLeaf(let index): "no leaf \(index) in the log"
        }
    }
}
