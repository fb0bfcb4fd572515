#!/usr/bin/env python3
"""Filtered exact search: FlatVec against its own unfiltered time, FAISS IndexFlatIP with an
IDSelectorBatch, and pgvector's exact WHERE ... ORDER BY ... LIMIT, on the same data in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/filters.py [--n 100000] [--repeats 5]

Data: N random unit vectors of dimension 512 and 32 random unit queries (fixed seeds); every row gets
an int64 attribute `bucket` in 0 ..< 10,000, each value on N / 10,000 rows, so the filter
`bucket < s * 10000` matches exactly the fraction s of the rows (s = 100%, 10%, 1%, 0.1%, 0.01%); k = 10.

- FlatVec runs in process (flatvec-filter-bench, both cores, the default scan of this CPU), with its
  own per-chunk plan ("default") and with each plan forced: "gather" (score only the matching rows)
  and "mask" (scan every row, drop the others) - the crossover between them. Every FlatVec result is
  checked against the float32 path searching each query alone: the same ids, and the same scores bit
  for bit under int8 (within 1e-5 under float32, whose batch kernels may round the last bit differently).
- FAISS IndexFlatIP (both cores) with SearchParameters(sel=IDSelectorBatch(matching ids)); the
  selector is built outside the timed call (a service would build it per request: that cost is
  extra). Its hits are compared with FlatVec's (recall@10, 1.0 = the same ids).
- pgvector: the table FlatVec's PostgreSQL store writes (`"fv_filterbench"`, a real `bucket bigint`
  column, loaded through `flatvec serve --postgres`), with a btree index on `bucket` and ANALYZE,
  queried with `SELECT id FROM "fv_filterbench" WHERE bucket < $1 ORDER BY embedding <#> $2 LIMIT 10`,
  one query at a time (nq = 32 is 32 sequential queries). Needs a PostgreSQL with pgvector:
  scripts/dev-postgres.sh start (the script starts it if FLATVEC_PG_URL is not set).

Target (issue 17): FlatVec one query within 1.5x of max(s x unfiltered, 0.2 ms), and ahead of both
anchors at every selectivity. Writes Benchmarks/compare/filters-latest.md (filters-float32-latest.md
with --scan float32).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from run import best_of, ensure_venv, import_psycopg, machine_info, postgres_url, unit_rows  # noqa: E402

ensure_venv()

import numpy as np  # noqa: E402
import faiss  # noqa: E402

psycopg = import_psycopg()

sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
from flatvec import Client  # noqa: E402
import provenance  # noqa: E402

FILTER_BENCH = os.path.join(ROOT, ".build", "release", "flatvec-filter-bench")
FLATVEC = os.path.join(ROOT, ".build", "release", "flatvec")
SELECTIVITIES = [1.0, 0.1, 0.01, 0.001, 0.0001]
CROSSOVER = [0.5, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02]
BATCHES = [1, 32]
D, K = 512, 10


def flatvec_runs(base_path, queries_path, buckets_path, repeats, scan):
    out = subprocess.check_output([
        FILTER_BENCH, "--base", base_path, "--queries", queries_path, "--buckets", buckets_path, "--k", str(K), "--scan", scan,
        "--repeats", str(repeats), "--selectivities", ",".join(map(str, sorted(set(SELECTIVITIES + CROSSOVER), reverse=True))),
        "--batches", ",".join(map(str, BATCHES)), "--plans", "default,gather,mask",
    ], text=True)
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def faiss_runs(base, queries, buckets, repeats):
    index = faiss.IndexFlatIP(D)
    index.add(base)
    rows = {}
    for nq in BATCHES:
        q = queries[:nq]
        for s in SELECTIVITIES:
            ids = np.nonzero(buckets < round(s * 10_000))[0].astype(np.int64)
            params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
            index.search(q, K, params=params)
            seconds, (_, found) = best_of(repeats, lambda: index.search(q, K, params=params))
            rows[(s, nq)] = (seconds, found)
    return rows


def pgvector_runs(url, base, queries, buckets, repeats):
    port = 7480 + os.getpid() % 200
    server = subprocess.Popen([FLATVEC, "serve", "--port", str(port), "--postgres", url, "--log-level", "error"])
    try:
        for _ in range(200):
            try:
                c = Client("127.0.0.1:%d" % port)
                c.ping()
                break
            except Exception:
                time.sleep(0.1)
        names = [i.name for i in c.list_collections()]
        if "filterbench" in names:
            c.drop_collection("filterbench")
        c.create_collection("filterbench", D, attributes={"bucket": "int64"})
        for start in range(0, len(base), 5_000):
            end = min(len(base), start + 5_000)
            c.add("filterbench", np.arange(start, end), base[start:end],
                  attributes=[{"bucket": int(b)} for b in buckets[start:end]])
        c.close()
    finally:
        server.terminate()
        server.wait(timeout=60)
    rows = {}
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute('CREATE INDEX ON "fv_filterbench" (bucket)')
        conn.execute('ANALYZE "fv_filterbench"')
        sql = 'SELECT id FROM "fv_filterbench" WHERE bucket < %s ORDER BY embedding <#> %s::vector LIMIT 10'
        literals = ["[" + ",".join("%r" % float(x) for x in q) + "]" for q in queries]
        for s in SELECTIVITIES:
            threshold = round(s * 10_000)

            def one(i):
                return [r[0] for r in conn.execute(sql, (threshold, literals[i])).fetchall()]

            one(0)
            seconds, found = best_of(repeats, lambda: one(0))
            rows[(s, 1)] = (seconds, [found])
            started = time.perf_counter()
            found32 = [one(i) for i in range(32)]
            rows[(s, 32)] = (time.perf_counter() - started, found32)
        conn.execute('DROP TABLE "fv_filterbench" CASCADE')
        conn.execute("DELETE FROM flatvec_collections WHERE name = 'filterbench'")
    return rows


def recall(found, expected):
    hits = sum(len(set(int(x) for x in f if x >= 0) & set(e)) for f, e in zip(found, expected))
    total = sum(len(e) for e in expected)
    return hits / total if total else 1.0


def ms(seconds):
    return "%.2f" % (seconds * 1000)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--scan", default="auto", help="FlatVec's scan: auto (this CPU's default), int8 or float32")
    args = parser.parse_args()
    for product in ("flatvec", "flatvec-filter-bench"):
        subprocess.check_call(["swift", "build", "-c", "release", "--product", product], cwd=ROOT)
    rng = np.random.default_rng(17)
    base = unit_rows(rng.standard_normal((args.n, D), dtype=np.float32))
    queries = unit_rows(rng.standard_normal((32, D), dtype=np.float32))
    buckets = (rng.permutation(args.n) % 10_000).astype(np.int64)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [os.path.join(tmp, n) for n in ("base.npy", "queries.npy", "buckets.npy")]
        for path, array in zip(paths, (base, queries, buckets)):
            np.save(path, array)
        fv = flatvec_runs(*paths, args.repeats, args.scan)
    fa = faiss_runs(base, queries, buckets, args.repeats)
    pg = {} if args.no_postgres else pgvector_runs(postgres_url(), base, queries, buckets, max(1, args.repeats // 2))
    info = machine_info()
    by = {(r["plan"], r["selectivity"], r["nq"]): r for r in fv}
    scan = fv[0]["scan"]
    lines = [
        "# Filtered search: FlatVec, FAISS IDSelectorBatch, pgvector (Benchmarks/compare/filters.py)", "",
        "Machine: %s, %d cores; %s; FlatVec scan %s; FAISS %s. N = %d x %d, k = %d, best of %d warm runs "
        "(pgvector nq = 32: 32 sequential queries, once)." % (
            info["cpu"], info["cores"], info["flatvec"], scan, info["faiss"], args.n, D, K, args.repeats), "",
    ]
    for nq in BATCHES:
        lines += ["## nq = %d (ms per batch)" % nq, "",
                  "| matching | rows | FlatVec | plan gather | plan mask | unfiltered | target 1.5 x max(s x unf, 0.2 ms) | FAISS IDSelectorBatch | pgvector WHERE | exact | FAISS recall |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|---:|"]
        for s in SELECTIVITIES:
            d, g, m = by[("default", s, nq)], by[("gather", s, nq)], by[("mask", s, nq)]
            target = 1.5 * max(s * d["unfiltered_seconds"], 0.0002 * (1 if nq == 1 else nq))
            faiss_seconds, faiss_found = fa[(s, nq)]
            pg_cell = ms(pg[(s, nq)][0]) if (s, nq) in pg else "-"
            exact = all(r["exact"] for r in (d, g, m))
            # FAISS's hits against pgvector's where both exist, else against each other's count.
            expected = pg[(s, nq)][1] if (s, nq) in pg else [list(map(int, f[f >= 0])) for f in faiss_found]
            lines.append("| %g%% | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.3f |" % (
                s * 100, d["matches"], ms(d["seconds"]), ms(g["seconds"]), ms(m["seconds"]), ms(d["unfiltered_seconds"]),
                ms(target), ms(faiss_seconds), pg_cell, "yes" if exact else "NO", recall(faiss_found, expected)))
        lines.append("")
    lines += ["## Where gathering stops paying (ms per batch; FlatVec's default gathers in a chunk when at most "
              "1/3 of its rows match)", "",
              "| matching | nq = 1 gather | nq = 1 mask | nq = 32 gather | nq = 32 mask |", "|---:|---:|---:|---:|---:|"]
    for s in sorted(set(SELECTIVITIES + CROSSOVER), reverse=True):
        lines.append("| %g%% | %s | %s | %s | %s |" % (
            s * 100, ms(by[("gather", s, 1)]["seconds"]), ms(by[("mask", s, 1)]["seconds"]),
            ms(by[("gather", s, 32)]["seconds"]), ms(by[("mask", s, 32)]["seconds"])))
    lines.append("")
    text = "\n".join(lines)
    print(text)
    name = "filters-float32-latest.md" if args.scan == "float32" else "filters-latest.md"
    with open(os.path.join(HERE, name), "w") as f:
        f.write(provenance.line(FLATVEC) + "\n\n" + text + "\n")


if __name__ == "__main__":
    main()
