import Synchronization

/// What a following server knows of its place in the store's change log, per collection, for STATS.
public final class FollowerStatus: Sendable {
    /// One collection's figures.
    public struct Entry: Sendable, Equatable {
        /// The largest change-log position applied (or recognised as this server's own write).
        public var position: UInt64 = 0
        /// Changes other writers committed that this server has not applied yet (at the last read).
        public var pending: UInt64 = 0
        /// How old the oldest of those was at the last read, in milliseconds.
        public var pendingAgeMillis: UInt64 = 0
    }

    private struct State {
        var following = false
        var entries: [String: Entry] = [:]
        var readAt = ContinuousClock.now
        var reloads = 0
    }

    private let state = Mutex(State())

    /// Creates the status of a server that does not follow (yet).
    public init() {}

    /// Whether the server follows a change log.
    public var isFollowing: Bool { state.withLock { $0.following } }

    /// How many times the follower reloaded everything because its position was trimmed.
    public var reloads: Int { state.withLock { $0.reloads } }

    func started() { state.withLock { $0.following = true } }

    func reloadedEverything() { state.withLock { $0.reloads += 1 } }

    func read(positions: [String: UInt64], pending: [String: Int], pendingAgeMillis: [String: UInt64]) {
        state.withLock { s in
            s.readAt = .now
            for (name, position) in positions { s.entries[name, default: Entry()].position = max(s.entries[name]?.position ?? 0, position) }
            for name in s.entries.keys {
                s.entries[name]!.pending = UInt64(pending[name] ?? 0)
                s.entries[name]!.pendingAgeMillis = pendingAgeMillis[name] ?? 0
            }
            for (name, count) in pending where s.entries[name] == nil {
                s.entries[name] = Entry(position: 0, pending: UInt64(count), pendingAgeMillis: pendingAgeMillis[name] ?? 0)
            }
        }
    }

    /// A collection's figures now (nil when not following): the age of pending changes grows from
    /// the last read, so a follower that cannot reach the store shows its lag growing.
    public func entry(for collection: String) -> Entry? {
        state.withLock { s in
            guard s.following else { return nil }
            var e = s.entries[collection] ?? Entry()
            if e.pending > 0 {
                let since = ContinuousClock.now - s.readAt
                e.pendingAgeMillis += UInt64(since.components.seconds) * 1000 + UInt64(since.components.attoseconds / 1_000_000_000_000_000)
            }
            return e
        }
    }
}
