import ArgumentParser
import Dispatch
import FlatVecClient
import FlatVecCore
import FlatVecFormats
import FlatVecProtocol
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `flatvec duplicates`: every pair of stored vectors scoring at least a threshold, or, with
/// `--vectors`, the stored vectors above it for each vector of a file.
struct DuplicatesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "duplicates",
        abstract: "List near-duplicates: every pair of stored vectors scoring at least --min-score (exact).",
        discussion: """
            Writes CSV lines a,b,score (a < b, each pair once, in the order found) to standard output or \
            --out, or JSON with --json. The server sweeps the collection against itself in blocks, page by \
            page: progress goes to standard error on a terminal, and Ctrl-C ends the sweep on the server. \
            Writes go on meanwhile: pairs present for the whole sweep are always listed, pairs added or \
            removed meanwhile may or may not be. A row with more partners than the server's \
            --max-range-hits lists its best ones and is counted as truncated.

            With --vectors FILE (.npy or .fvecs), lists instead, for each vector of the file, the stored \
            vectors scoring at least --min-score: CSV lines query,id,score (query: the row of the file).
            """
    )

    @OptionGroup var client: ClientOptions
    @Option(name: .long, help: "Collection name.") var collection: String
    @Option(name: .long, parsing: .unconditional, help: "The inclusive threshold: pairs scoring at least this.") var minScore: Float
    @Option(name: .long, help: "Only vectors this filter is true of, on both sides of a pair (grammar: flatvec search --help).") var filter: String?
    @Option(name: .long, help: "Vectors to check against the collection instead (.npy or .fvecs).") var vectors: String?
    @Option(name: .long, help: "Write the CSV (or JSON) here instead of standard output.") var out: String?
    @Flag(name: .long, help: "Write JSON.") var json = false
    @Option(name: .long, help: "Pairs per page (1 to 1000000).") var pageSize: Int = 100_000

    func run() async throws {
        guard minScore.isFinite else { fail("--min-score must be a finite number, got \(minScore)") }
        guard (1...DuplicatesRequest.maximumPairsPerPage).contains(pageSize) else {
            fail("--page-size must be from 1 to \(DuplicatesRequest.maximumPairsPerPage), got \(pageSize)")
        }
        let parsedFilter = CommandInputs.filter(filter)
        let matrix = vectors.map(CommandInputs.vectors)
        let output = OutputFile(path: out)
        let c = await client.connect()
        if let matrix {
            await matches(of: matrix, client: c, filter: parsedFilter, output: output)
        } else {
            await sweep(client: c, filter: parsedFilter, output: output)
        }
        await c.close()
        output.close()
    }

    /// The sweep of the collection against itself, page by page; Ctrl-C ends it on the server.
    private func sweep(client c: FlatVecClient, filter: Filter?, output: OutputFile) async {
        let progress = isatty(2) == 1
        let started = ContinuousClock.now
        var pairs = 0
        output.write(json ? #"{"pairs":["# : "a,b,score\n")
        // Ctrl-C stops after the page being read, and the sweep is ended on the server before exiting.
        let interrupted = Interruption()
        signal(SIGINT, SIG_IGN)
        let interrupt = DispatchSource.makeSignalSource(signal: SIGINT)
        interrupt.setEventHandler { interrupted.set() }
        interrupt.resume()
        let last: DuplicatePage
        do {
            last = try await c.duplicates(collection: collection, minScore: minScore, filter: filter, maxPairs: pageSize) { page in
                var text = ""
                for pair in page.pairs {
                    if json {
                        text += (pairs == 0 ? "" : ",") + #"{"a":\#(pair.a),"b":\#(pair.b),"score":\#(pair.score)}"#
                    } else {
                        text += "\(pair.a),\(pair.b),\(pair.score)\n"
                    }
                    pairs += 1
                }
                output.write(text)
                if progress {
                    let percent = page.rowsTotal == 0 ? 100 : page.rowsDone * 100 / page.rowsTotal
                    report("\rswept \(page.rowsDone) of \(page.rowsTotal) rows (\(percent)%), \(pairs) pairs", newline: false)
                }
                if interrupted.isSet { throw CancellationError() }
            }
        } catch is CancellationError {
            if progress { report("") }
            fail("interrupted: the sweep was ended after \(pairs) pairs")
        } catch let error as FlatVecError {
            if progress { report("") }
            fail(error.description)
        } catch {
            fail("\(error)")
        }
        interrupt.cancel()
        let took = (ContinuousClock.now - started).components
        let seconds = ((Double(took.seconds) + Double(took.attoseconds) / 1e18) * 100).rounded() / 100
        if json {
            output.write(#"],"rows":\#(last.rowsTotal),"truncated_rows":\#(last.truncatedRows)}"# + "\n")
        }
        if progress || out != nil {
            if progress { report("") }
            report("\(pairs) pairs at or above \(minScore) among \(last.rowsTotal) rows in \(seconds) s")
        }
        if last.truncatedRows > 0 {
            report("flatvec: warning: \(last.truncatedRows) rows had more partners than the server lists per row (--max-range-hits): only their best are listed")
        }
    }

    /// For each vector of the file, the stored vectors scoring at least the threshold (range searches
    /// of up to 1,024 queries each).
    private func matches(of matrix: Matrix<Float>, client c: FlatVecClient, filter: Filter?, output: OutputFile) async {
        var options = SearchOptions.range(minScore: minScore)
        options.filter = filter
        output.write(json ? "[" : "query,id,score\n")
        var truncated = 0
        var start = 0
        while start < matrix.rows {
            let n = min(1_024, matrix.rows - start)
            let queries = Array(matrix.values[(start * matrix.columns)..<((start + n) * matrix.columns)])
            let results = await orFail {
                try await c.rangeSearch(collection: collection, queries: queries, dimension: matrix.columns, minScore: minScore, options: options)
            }
            var text = ""
            for (j, result) in results.enumerated() {
                let q = start + j
                if result.truncated { truncated += 1 }
                if json {
                    let list = result.hits.map { #"{"id":\#($0.id),"score":\#($0.score)}"# }.joined(separator: ",")
                    text += (q == 0 ? "" : ",") + #"{"query":\#(q),"matches":[\#(list)],"truncated":\#(result.truncated)}"#
                } else {
                    for hit in result.hits { text += "\(q),\(hit.id),\(hit.score)\n" }
                }
            }
            output.write(text)
            start += n
        }
        if json { output.write("]\n") }
        if truncated > 0 {
            report("flatvec: warning: \(truncated) vectors had more matches than the server lists (--max-range-hits): only their best are listed")
        }
    }
}

/// Set once, from a signal handler's queue.
final class Interruption: Sendable {
    private let flag = Atomic(false)

    func set() { flag.store(true, ordering: .relaxed) }

    var isSet: Bool { flag.load(ordering: .relaxed) }
}

/// Standard output, or a file created at a path.
final class OutputFile: Sendable {
    private let descriptor: Int32

    init(path: String?) {
        guard let path else {
            descriptor = 1
            return
        }
        let opened = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard opened >= 0 else { fail("cannot write \(path): \(String(cString: strerror(errno)))") }
        descriptor = opened
    }

    func write(_ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            guard written > 0 else { fail("cannot write the output: \(String(cString: strerror(errno)))") }
            bytes = bytes.dropFirst(written)
        }
    }

    func close() {
        if descriptor != 1 && Glibc.close(descriptor) != 0 {
            fail("cannot write the output: \(String(cString: strerror(errno)))")
        }
    }
}
