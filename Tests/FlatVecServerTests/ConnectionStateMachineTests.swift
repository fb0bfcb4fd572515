import FlatVecProtocol
@testable import FlatVecServer
import NIOCore
import Testing

/// Transitions of the connection state machine, without sockets.
@Suite struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine

    static func frame(_ request: Request, id: UInt64 = 1, flags: FrameHeader.Flags = []) -> Frame {
        var payload = ByteBufferAllocator().buffer(capacity: 64)
        request.encode(into: &payload)
        return Frame(header: FrameHeader(opcode: request.opcode, flags: flags, requestID: id), payload: payload)
    }

    static let search = Request.search(SearchRequest(collection: "c", dimension: 2, queries: [1, 0], options: SearchOptions(k: 1)))
    /// A request that is not a SEARCH (it runs alone).
    static let list = Request.listCollections

    static func machine(_ configure: (inout ServerConfiguration) -> Void = { _ in }) -> Machine {
        var configuration = ServerConfiguration(port: 0)
        configure(&configuration)
        return Machine(configuration: configuration)
    }

    static func isExecute(_ actions: [Machine.Action], id: UInt64) -> Bool {
        actions.contains { if case .execute(let f) = $0 { return f.header.requestID == id } else { return false } }
    }

    static func finish(in actions: [Machine.Action]) -> (reason: String, error: FlatVecError?)? {
        for case .finish(let reason, let error) in actions { return (reason, error) }
        return nil
    }

    static func replyCode(_ actions: [Machine.Action]) -> UInt16? {
        for case .reply(let response, _) in actions { return response.errorCode }
        return nil
    }

    // MARK: authentication

    @Test func authenticationGatesEverythingButHelloAndPing() {
        var m = Self.machine { $0.adminToken = "admin"; $0.readerToken = "reader" }
        #expect(m.activated(openConnections: 1).isEmpty)
        #expect(Self.replyCode(m.frameReceived(Self.frame(Self.search))) == FlatVecError.Code.unauthenticated.rawValue)
        #expect(m.frameReceived(Self.frame(.ping([1]))) == [.reply(.pong([1]), to: Self.frame(.ping([1])).header)])
        let hello = m.frameReceived(Self.frame(.hello(HelloRequest(token: "reader"))))
        #expect(hello.first == .setFrameLimit(m.configuration.limits.maxFrameBytes))
        #expect(m.rules.role == .reader)
        #expect(Self.isExecute(m.frameReceived(Self.frame(Self.search, id: 7)), id: 7))
        _ = m.requestFinished()
        #expect(Self.replyCode(m.frameReceived(Self.frame(.dropCollection("c")))) == FlatVecError.Code.forbidden.rawValue)
    }

    @Test func aFailedHelloRepliesThenFinishes() {
        var m = Self.machine { $0.adminToken = "admin" }
        let actions = m.frameReceived(Self.frame(.hello(HelloRequest(token: "wrong"))))
        #expect(Self.replyCode(actions) == FlatVecError.Code.unauthenticated.rawValue)
        #expect(Self.finish(in: actions)?.reason == "authentication failed")
        // Whatever follows is discarded, and reads continue (lingering) so the close is clean.
        #expect(m.frameReceived(Self.frame(.ping([1]))).isEmpty)
        #expect(m.readRequested() == [.read])
        #expect(!m.isOpen)
    }

    @Test func theAuthenticationDeadlineRejects() {
        var m = Self.machine { $0.adminToken = "admin"; $0.authenticationTimeout = .seconds(2) }
        #expect(m.tick(elapsed: .seconds(1), received: 0, partialFrameBytes: 0).isEmpty)
        let actions = m.tick(elapsed: .seconds(1), received: 0, partialFrameBytes: 0)
        #expect(Self.finish(in: actions)?.error?.code == .unauthenticated)
    }

    // MARK: pipelining and back-pressure

    @Test func requestsRunOneAtATimeInOrderAndReadingPausesAtTheLimit() {
        var m = Self.machine { $0.maxPipelinedRequests = 4 }
        #expect(Self.isExecute(m.frameReceived(Self.frame(Self.list, id: 0)), id: 0))
        for id in 1...3 { #expect(m.frameReceived(Self.frame(Self.list, id: UInt64(id))).isEmpty) }
        #expect(m.queued == 3)
        #expect(m.readRequested().isEmpty, "reading goes on past the pipelining limit")
        // The running request finishes: the next starts, and the paused read resumes.
        let next = m.requestFinished()
        #expect(Self.isExecute(next, id: 1))
        #expect(next.last == .read)
        for id in 2...3 { #expect(Self.isExecute(m.requestFinished(), id: UInt64(id))) }
        #expect(m.requestFinished().isEmpty)
        #expect(m.readRequested() == [.read])
    }

    /// Consecutive SEARCHes run together (so they can share scans); a request of another kind waits
    /// until every earlier one has finished, and the SEARCHes after it wait for it. Requests running
    /// count against the pipelining limit.
    /// At most maxConcurrentSearches run at once; the next starts when one finishes.
    @Test func concurrentSearchesAreBounded() {
        var m = Self.machine { $0.maxConcurrentSearches = 2 }
        #expect(Self.isExecute(m.frameReceived(Self.frame(Self.search, id: 0)), id: 0))
        #expect(Self.isExecute(m.frameReceived(Self.frame(Self.search, id: 1)), id: 1))
        #expect(m.frameReceived(Self.frame(Self.search, id: 2)).isEmpty, "a third search started beyond the limit of 2")
        #expect(Self.isExecute(m.requestFinished(), id: 2))
        // The output goes over its high-water mark: nothing new starts until it drains.
        _ = m.writabilityChanged(false)
        #expect(m.frameReceived(Self.frame(Self.search, id: 3)).isEmpty)
        #expect(m.requestFinished().isEmpty)
        #expect(Self.isExecute(m.writabilityChanged(true), id: 3))
    }

    @Test func consecutiveSearchesRunTogetherAndOtherRequestsAlone() {
        var m = Self.machine { $0.maxPipelinedRequests = 5 }
        for id in 0...2 { #expect(Self.isExecute(m.frameReceived(Self.frame(Self.search, id: UInt64(id))), id: UInt64(id))) }
        #expect(m.frameReceived(Self.frame(Self.list, id: 3)).isEmpty, "a LIST started while SEARCHes ran")
        #expect(m.frameReceived(Self.frame(Self.search, id: 4)).isEmpty, "a SEARCH overtook the LIST before it")
        #expect(m.queued == 2)
        #expect(m.readRequested().isEmpty, "3 running + 2 queued is the limit of 5")
        #expect(m.requestFinished() == [.read], "below the limit again: reading resumes")
        #expect(m.requestFinished().isEmpty)
        #expect(Self.isExecute(m.requestFinished(), id: 3), "the LIST starts once the SEARCHes before it are done")
        #expect(Self.isExecute(m.requestFinished(), id: 4))
        #expect(m.requestFinished().isEmpty)
    }

    @Test func unreadRepliesStopTheWorkAndTheWriteTimeoutCloses() {
        var m = Self.machine()
        #expect(m.writabilityChanged(false) == [.startWriteTimeout(generation: 1)])
        #expect(m.frameReceived(Self.frame(Self.search, id: 1)).isEmpty, "work started for a peer that reads nothing")
        #expect(m.readRequested().isEmpty)
        // Writable again: the queued request runs and reading resumes.
        let resumed = m.writabilityChanged(true)
        #expect(Self.isExecute(resumed, id: 1) && resumed.last == .read)
        #expect(m.writeTimeoutFired(generation: 1).isEmpty, "a stale timeout closed the connection")
        _ = m.requestFinished()
        #expect(m.writabilityChanged(false) == [.startWriteTimeout(generation: 3)])
        guard case .closeNow = m.writeTimeoutFired(generation: 3).first else {
            Issue.record("replies unread past the timeout did not close")
            return
        }
        #expect(!m.isOpen)
    }

    @Test func stallingMidFrameCountsOnlyWhileTheServerReads() {
        var m = Self.machine { $0.frameTimeout = .seconds(2); $0.maxPipelinedRequests = 1 }
        _ = m.frameReceived(Self.frame(Self.search, id: 1))  // running
        _ = m.frameReceived(Self.frame(Self.search, id: 2))  // queued: at the limit, reading paused
        #expect(m.readRequested().isEmpty)
        for _ in 0..<30 { #expect(m.tick(elapsed: .seconds(1), received: 100, partialFrameBytes: 40).isEmpty) }
        _ = m.requestFinished()
        _ = m.requestFinished()
        // Reading again; the client stays silent mid-frame for the frame timeout.
        #expect(m.tick(elapsed: .seconds(1), received: 100, partialFrameBytes: 40).isEmpty)
        #expect(Self.finish(in: m.tick(elapsed: .seconds(1), received: 100, partialFrameBytes: 40))?.reason.contains("stalled") == true)
    }

    // MARK: shutdown and close

    @Test func quiescingAnswersWhatWasReadThenFinishes() {
        var m = Self.machine()
        _ = m.frameReceived(Self.frame(Self.list, id: 1))
        _ = m.frameReceived(Self.frame(Self.list, id: 2))
        #expect(m.quiesce().isEmpty, "closed with a request running")
        #expect(m.readRequested().isEmpty, "read new requests while shutting down")
        #expect(Self.isExecute(m.requestFinished(), id: 2), "a request read before the shutdown was dropped")
        let last = m.requestFinished()
        #expect(Self.finish(in: last)?.reason == "server shutting down")
        #expect(last.last == .read, "the close does not drain the peer")
        // Lingering: reads go on, frames are discarded, the linger ends in a close.
        #expect(m.frameReceived(Self.frame(Self.search, id: 3)).isEmpty)
        #expect(m.readRequested() == [.read])
        #expect(m.tick(elapsed: .seconds(2), received: 0, partialFrameBytes: 0).isEmpty)
        #expect(m.tick(elapsed: .seconds(4), received: 0, partialFrameBytes: 0) == [.closeNow(reason: nil)])
        #expect(m.tick(elapsed: .seconds(1), received: 0, partialFrameBytes: 0).isEmpty)
    }

    @Test func anIdleConnectionFinishesAtOnceOnShutdown() {
        var m = Self.machine()
        #expect(Self.finish(in: m.quiesce())?.reason == "server shutting down")
    }

    @Test func connectionsOverTheLimitAreRejected() {
        var m = Self.machine { $0.maxConnections = 2 }
        #expect(Self.finish(in: m.activated(openConnections: 3))?.error?.code == .limitExceeded)
        var ok = Self.machine { $0.maxConnections = 2 }
        #expect(ok.activated(openConnections: 2).isEmpty)
    }

    @Test func framingErrorsFinishWithTheErrorOthersCloseAtOnce() {
        var m = Self.machine()
        let error = FlatVecError(.badFrame, "declared frame length 4294967295 exceeds the maximum 65536")
        #expect(Self.finish(in: m.errorCaught(framingError: error))?.error == error)
        #expect(m.errorCaught(framingError: nil) == [.closeNow(reason: "connection error")])
        #expect(m.errorCaught(framingError: nil).isEmpty)
        var other = Self.machine()
        #expect(other.errorCaught(framingError: nil) == [.closeNow(reason: "connection error")])
    }

    @Test func frameLevelRefusalsKeepTheConnection() {
        var m = Self.machine()
        #expect(Self.replyCode(m.frameReceived(Self.frame(.listCollections, flags: .reply))) == FlatVecError.Code.badFrame.rawValue)
        #expect(Self.replyCode(m.frameReceived(Self.frame(.listCollections, flags: .init(rawValue: 0x8000)))) == FlatVecError.Code.unsupportedFeature.rawValue)
        #expect(m.isOpen)
    }
}
