#!/usr/bin/env python3
"""Near-duplicate sweep: `flatvec duplicates` against numpy, FAISS and a pgvector self-join.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/duplicates.py [--n 100000] [--threshold 0.9]

N x 512 random unit vectors, 1% of them replaced by near copies of others (cosine about 0.98), every
pair (a < b) scoring at least the threshold (inner product), one run each, on the same data:

- FlatVec: the whole `flatvec duplicates --out pairs.csv` command (connect, sweep, write the CSV)
  against a `flatvec serve` (in memory, release build) holding the vectors;
- numpy: the product in blocks of 4,096 rows (`base[block] @ base.T`, OpenBLAS with 2 threads), every
  score at or above the threshold kept;
- FAISS: `IndexFlatIP.range_search` of the collection against itself (2 OpenMP threads);
- pgvector (at --pg-n rows, default 10,000, because the nested loop grows with N^2): the self-join
  `a.id < b.id AND (a.embedding <#> b.embedding) <= -threshold` on the table FlatVec's PostgreSQL
  store writes; FlatVec, numpy and FAISS run at that size too. Needs a PostgreSQL with pgvector
  (scripts/dev-postgres.sh start, started if FLATVEC_PG_URL is not set); --no-postgres skips it.

Every tool's pairs are compared with numpy's. Writes duplicates-latest.md beside this script.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import ROOT, ensure_venv, import_psycopg, machine_info, postgres_url, start_flatvec_server, unit_rows  # noqa: E402

ensure_venv()
import faiss  # noqa: E402
import numpy as np  # noqa: E402
import provenance  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
from flatvec import Client  # noqa: E402

FLATVEC = os.path.join(ROOT, ".build", "release", "flatvec")
D = 512
ENV = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}


def catalogue(n, seed=0):
    rng = np.random.default_rng(seed)
    base = unit_rows(rng.standard_normal((n, D), dtype=np.float32))
    planted = n // 100
    source = rng.integers(0, n, planted)
    target = rng.choice(n, planted, replace=False)
    base[target] = unit_rows(base[source] + 0.2 * unit_rows(rng.standard_normal((planted, D), dtype=np.float32)))
    return base


def flatvec_sweep(port, collection, threshold):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pairs.csv")
        started = time.perf_counter()
        subprocess.check_call([FLATVEC, "duplicates", "--server", "127.0.0.1:%d" % port, "--collection", collection,
                               "--min-score", repr(threshold), "--out", out], env=ENV, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        pairs = np.loadtxt(out, delimiter=",", skiprows=1, usecols=(0, 1), dtype=np.int64, ndmin=2)
    return seconds, {(int(a), int(b)) for a, b in pairs}


def numpy_sweep(base, threshold, block=4096):
    started = time.perf_counter()
    found = set()
    for start in range(0, len(base), block):
        scores = base[start:start + block] @ base.T
        rows, cols = np.nonzero(scores >= threshold)
        rows += start
        keep = rows < cols
        found |= set(zip(rows[keep].tolist(), cols[keep].tolist()))
    return time.perf_counter() - started, found


def faiss_sweep(base, threshold):
    faiss.omp_set_num_threads(2)
    index = faiss.IndexFlatIP(D)
    index.add(base)
    started = time.perf_counter()
    lims, _, ids = index.range_search(base, threshold)
    seconds = time.perf_counter() - started
    found = set()
    for a in range(len(base)):
        for b in ids[lims[a]:lims[a + 1]].tolist():
            if a < b:
                found.add((a, int(b)))
    return seconds, found


def pgvector_sweep(url, base, threshold):
    psycopg = import_psycopg()
    server, _, c = start_flatvec_server(["--postgres", url], Client)
    try:
        if "dupbench" in [i.name for i in c.list_collections()]:
            c.drop_collection("dupbench")
        c.create_collection("dupbench", D)
        for start in range(0, len(base), 5_000):
            c.add("dupbench", np.arange(start, min(len(base), start + 5_000)), base[start:start + 5_000])
        c.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('ANALYZE "fv_dupbench"')
        started = time.perf_counter()
        rows = conn.execute('SELECT a.id, b.id FROM "fv_dupbench" a JOIN "fv_dupbench" b ON a.id < b.id '
                            'WHERE (a.embedding <#> b.embedding) <= %s', (-threshold,)).fetchall()
        seconds = time.perf_counter() - started
        conn.execute('DROP TABLE "fv_dupbench" CASCADE')
        conn.execute("DELETE FROM flatvec_collections WHERE name = 'dupbench'")
    return seconds, {(int(a), int(b)) for a, b in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--pg-n", type=int, default=10_000)
    parser.add_argument("--threshold", type=float, default=0.9)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    subprocess.check_call(["swift", "build", "-c", "release", "--product", "flatvec"], cwd=ROOT)
    sizes = [args.n] if args.no_postgres else sorted({args.pg_n, args.n})
    rows = []
    for n in sizes:
        base = catalogue(n)
        server, port, client = start_flatvec_server(["--sample-data", "none"], Client)
        try:
            client.create_collection("dup", D)
            for start in range(0, n, 20_000):
                client.add("dup", np.arange(start, min(start + 20_000, n)), base[start:start + 20_000])
            client.close()
            flatvec_seconds, flatvec_pairs = flatvec_sweep(port, "dup", args.threshold)
        finally:
            server.terminate()
            server.wait()
        numpy_seconds, expected = numpy_sweep(base, args.threshold)
        faiss_seconds, faiss_pairs = faiss_sweep(base, args.threshold)
        pg = None
        if not args.no_postgres and n == args.pg_n:
            pg_seconds, pg_pairs = pgvector_sweep(postgres_url(), base, args.threshold)
            pg = (pg_seconds, pg_pairs == expected)
        rows.append((n, len(expected), flatvec_seconds, flatvec_pairs == expected, numpy_seconds, faiss_seconds,
                     faiss_pairs == expected, pg))
        print(rows[-1][:7], pg[0] if pg else "-", flush=True)
    info = machine_info()
    lines = [
        "# Near-duplicate sweep: flatvec duplicates against numpy, FAISS and pgvector",
        "",
        "N x %d random unit vectors, 1%% replaced by near copies (cosine about 0.98), every pair scoring at least %.2f"
        " (inner product); seconds, one run each. FlatVec: the whole `flatvec duplicates --out` command against its"
        " server (int8 first pass where the CPU has one); numpy %s: blocks of 4,096 rows against all; FAISS %s:"
        " IndexFlatIP.range_search of the collection against itself, 2 threads; pgvector: the self-join on FlatVec's"
        " PostgreSQL table (at N = %d only)." % (D, args.threshold, np.__version__, info.get("faiss", "?"), args.pg_n),
        "",
        "| N | pairs | FlatVec | numpy blocked | FAISS range_search | pgvector self-join | numpy / FlatVec | FAISS / FlatVec |"
        " same pairs (FlatVec, FAISS, pgvector) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for n, count, fv, fv_exact, npy, fs, fs_exact, pg in rows:
        lines.append("| %d | %d | %.2f | %.2f | %.2f | %s | %.1fx | %.1fx | %s, %s, %s |" % (
            n, count, fv, npy, fs, "%.2f" % pg[0] if pg else "-", npy / fv, fs / fv, "yes" if fv_exact else "NO",
            "yes" if fs_exact else "NO", ("yes" if pg[1] else "NO") if pg else "-"))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "duplicates-latest.md"), "w") as f:
        f.write(provenance.line(FLATVEC) + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
