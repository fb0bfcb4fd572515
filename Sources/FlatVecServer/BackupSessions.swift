import FlatVecCore
import FlatVecProtocol
import FlatVecStorage
import Synchronization

/// The online backups clients are reading (BACKUP), by cursor: each holds its store's files in place
/// until its last piece is read, it is ended, or it goes unread for ``idleLimit``.
final class BackupSessions: Sendable {
    /// Backups in progress at once.
    static let maximumOpen = 4
    /// A backup not read for this long is dropped (and its files released).
    static let idleLimit = Duration.seconds(60)

    struct Session: Sendable {
        let plan: BackupPlan
        var file = 0
        var offset = 0
        var lastUsed = ContinuousClock.now
        var reading = true
    }

    private let sessions = Mutex<[UInt64: Session]>([:])

    /// Registers a new backup and returns its cursor, dropping idle ones (their pins go back to `store`).
    /// - Throws: `limit_exceeded` when ``maximumOpen`` backups are in progress.
    func open(_ plan: BackupPlan, store: any DurableStore) throws(FlatVecError) -> UInt64 {
        let now = ContinuousClock.now
        return try sessions.withLock { (sessions) throws(FlatVecError) -> UInt64 in
            for (cursor, session) in sessions where !session.reading && now - session.lastUsed > Self.idleLimit {
                store.endBackup(session.plan.pin)
                sessions[cursor] = nil
            }
            guard sessions.count < Self.maximumOpen else {
                store.endBackup(plan.pin)
                throw FlatVecError(.limitExceeded, "\(Self.maximumOpen) backups are in progress: end one first")
            }
            var cursor: UInt64
            repeat { cursor = UInt64.random(in: 1...UInt64.max) } while sessions[cursor] != nil
            sessions[cursor] = Session(plan: plan)
            return cursor
        }
    }

    /// Takes the backup of `cursor` to read its next piece.
    /// - Throws: `invalid_argument` for a cursor not open or being read by another request.
    func take(_ cursor: UInt64) throws(FlatVecError) -> Session {
        try sessions.withLock { (sessions) throws(FlatVecError) -> Session in
            guard var session = sessions[cursor] else {
                throw FlatVecError(.invalidArgument, "no backup in progress has cursor \(cursor): it ended, idled out, or was never started")
            }
            guard !session.reading else { throw FlatVecError(.invalidArgument, "a piece of the backup with cursor \(cursor) is being read by another request") }
            session.reading = true
            sessions[cursor] = session
            return session
        }
    }

    /// Gives a session back after a piece, where it now stands.
    func give(back cursor: UInt64, _ session: Session) {
        var session = session
        session.reading = false
        session.lastUsed = .now
        sessions.withLock { $0[cursor] = session }
    }

    /// Removes the backup of `cursor` (its pin is the caller's to end).
    func remove(_ cursor: UInt64) -> Session? {
        sessions.withLock { $0.removeValue(forKey: cursor) }
    }
}
