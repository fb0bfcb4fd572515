#!/usr/bin/env python3
"""Range search (every hit scoring at least a threshold): FlatVec against FAISS IndexFlatIP.range_search.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/range.py [--n 100000] [--threshold 0.15]

N x 512 random unit vectors go into a `flatvec serve` (in memory, release build, --sample-data none)
and into a FAISS IndexFlatIP in this process (2 OpenMP threads, as FlatVec has 2 search threads).
Range searches at nq = 1 and 32, through the Python client (`k="all"`, `min_score`) and FAISS
`range_search`, best and median of 15 warm runs each, alternating; every answer checked equal (same
ids per query). Writes range-latest.md beside this script.
"""
import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import ROOT, ensure_venv, free_port, machine_info, timed, unit_rows  # noqa: E402

ensure_venv()
import faiss  # noqa: E402
import numpy as np  # noqa: E402
import provenance  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
from flatvec import Client  # noqa: E402

FLATVEC = os.path.join(ROOT, ".build", "release", "flatvec")
D = 512


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--threshold", type=float, default=0.15)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    subprocess.check_call(["swift", "build", "-c", "release", "--product", "flatvec"], cwd=ROOT)
    rng = np.random.default_rng(0)
    base = unit_rows(rng.standard_normal((args.n, D), dtype=np.float32))
    queries = unit_rows(rng.standard_normal((32, D), dtype=np.float32))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    server = subprocess.Popen([FLATVEC, "serve", "--port", str(port), "--sample-data", "none", "--log-level", "error"], env=env)
    rows = []
    try:
        client = None
        for _ in range(100):
            try:
                client = Client("127.0.0.1:%d" % port)
                break
            except Exception:
                time.sleep(0.1)
        assert client is not None, "flatvec serve did not start"
        client.create_collection("range", D)
        for start in range(0, args.n, 20_000):
            client.add("range", np.arange(start, min(start + 20_000, args.n)), base[start:start + 20_000])
        faiss.omp_set_num_threads(2)
        index = faiss.IndexFlatIP(D)
        index.add(base)
        for nq in (1, 32):
            q = queries[:nq]
            result = client.search("range", q, k="all", min_score=args.threshold)
            lims, _, ids = index.range_search(q, args.threshold)
            exact = all(
                sorted(int(x) for x in result.ids[i] if x >= 0) == sorted(ids[lims[i]:lims[i + 1]].tolist()) for i in range(nq)
            )
            flatvec_best, flatvec_median = timed(lambda: client.search("range", q, k="all", min_score=args.threshold), args.repeats)
            faiss_best, faiss_median = timed(lambda: index.range_search(q, args.threshold), args.repeats)
            rows.append((nq, flatvec_best, flatvec_median, faiss_best, faiss_median, lims[-1] / nq, exact))
        client.close()
    finally:
        server.terminate()
        server.wait()
    info = machine_info()
    lines = [
        "# Range search: FlatVec against FAISS IndexFlatIP.range_search",
        "",
        "N = %d x %d random unit vectors, threshold %.2f (inner product), ms per batch, best / median of %d warm runs;"
        % (args.n, D, args.threshold, args.repeats),
        "FlatVec through its server and Python client over loopback (int8 first pass where the CPU has one), FAISS in"
        " process with 2 threads; FAISS %s." % info.get("faiss", "?"),
        "",
        "| nq | FlatVec best | FlatVec median | FAISS best | FAISS median | FAISS / FlatVec (best) | hits per query | same ids |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for nq, fb, fm, ab, am, hits, exact in rows:
        lines.append("| %d | %.2f | %.2f | %.2f | %.2f | %.2fx | %.1f | %s |" % (nq, fb, fm, ab, am, ab / fb, hits, "yes" if exact else "NO"))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "range-latest.md"), "w") as f:
        f.write(provenance.line(FLATVEC) + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
