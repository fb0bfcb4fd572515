#!/usr/bin/env python3
"""FlatVec's int8 first pass against its float32 path, FAISS IndexFlatIP, numpy and FAISS SQ8, in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/int8.py            # N = 100k and 1M
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/int8.py --quick    # N = 100k only

Data: N random unit vectors of dimension 512 (fixed seed) and 1,024 random unit queries; k = 10;
every system uses both cores and the best of `--repeats` warm runs is kept per batch size (nq = 1,
8, 32, 128, 1,024). FlatVec runs in process (flatvec-search-bench): `--scan int8` and `--scan float32`;
the int8 run checks every hit and score against the float32 path searching each query alone and
reports mismatches (0 means exact). FAISS IndexScalarQuantizer (QT_8bit, inner product) is
approximate: its recall@10 against exact FAISS IndexFlatIP is reported beside its time.

"bytes/query" is what each scan reads per query: float32 reads N x d x 4 bytes once per batch (so
N d 4 / nq per query); int8 reads the codes and their figures (N x (d + 48) bytes) once per batch,
plus d x 4 bytes per rescored row per query. Writes Benchmarks/compare/int8-latest.md.
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
from run import best_of, ensure_venv, machine_info, unit_rows  # noqa: E402

ensure_venv()

import numpy as np  # noqa: E402
import faiss  # noqa: E402
import provenance  # noqa: E402

SEARCH_BENCH = os.path.join(ROOT, ".build", "release", "flatvec-search-bench")
BATCHES = [1, 8, 32, 128, 1024]
D = 512
K = 10


def random_unit_rows(rng, n, d):
    """n random unit vectors, generated and normalised 100,000 at a time (1M x 512 fits twice in memory)."""
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, 100_000):
        block = unit_rows(rng.standard_normal((min(100_000, n - start), d), dtype=np.float32))
        out[start:start + len(block)] = block
    return out


def warm_best_of(repeats, fn):
    """One untimed call, then the best of `repeats` timed ones (seconds)."""
    fn()
    return best_of(repeats, fn)[0]


def flatvec(base_path, queries_path, scan, repeats, check):
    out = subprocess.check_output(
        [SEARCH_BENCH, "--base", base_path, "--queries", queries_path, "--k", str(K), "--scan", scan,
         "--repeats", str(repeats), "--batches", ",".join(map(str, BATCHES)), "--check", "yes" if check else "no"],
        text=True)
    return {row["nq"]: row for row in (json.loads(line) for line in out.splitlines() if line.strip())}


def kernel_names():
    info = subprocess.check_output([os.path.join(ROOT, ".build", "release", "flatvec"), "info"], text=True)
    fields = dict(line.split(": ", 1) for line in info.splitlines() if ": " in line)
    return fields.get("blas kernel", "?"), fields.get("int8 kernel", "?")


def numpy_top_k(q, base, block=256):
    """numpy's exact top-k, at most `block` queries per matrix product: one product of 1,024 queries
    against 1M rows is a 4 GB score matrix, and argpartition's 8 GB of indices beside it ran the
    harness out of memory (24 GB) at N = 1M."""
    return np.concatenate([np.argpartition(-(q[i:i + block] @ base.T), K, axis=1)[:, :K]
                           for i in range(0, len(q), block)])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="N = 100k only")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for product in ("flatvec", "flatvec-search-bench"):
        subprocess.check_call(["swift", "build", "-c", "release", "--product", product], cwd=ROOT)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    blas_kernel, int8_kernel = kernel_names()
    machine = machine_info()
    sizes = [100_000] if args.quick else [100_000, 1_000_000]
    rng = np.random.default_rng(2026)
    queries = random_unit_rows(rng, max(BATCHES), D)
    lines = [
        "# int8 first pass: FlatVec int8 vs float32, FAISS IndexFlatIP, numpy, FAISS SQ8",
        "",
        "CPU: %s, %d cores; FlatVec BLAS kernel %s, int8 kernel %s; FAISS %s; numpy %s; python %s." % (
            machine["cpu"], machine["cores"], blas_kernel, int8_kernel, machine["faiss"], machine["numpy"],
            machine["python"]),
        "d = %d, k = %d, random unit vectors and queries; best of %d warm runs; times in ms." % (D, K, args.repeats),
        "",
    ]
    for n in sizes:
        base = random_unit_rows(rng, n, D)
        with tempfile.TemporaryDirectory() as tmp:
            base_path, queries_path = os.path.join(tmp, "base.npy"), os.path.join(tmp, "queries.npy")
            np.save(base_path, base)
            np.save(queries_path, queries)
            int8 = flatvec(base_path, queries_path, "int8", args.repeats, check=True)
            f32 = flatvec(base_path, queries_path, "float32", args.repeats, check=False)
        flat = faiss.IndexFlatIP(D)
        flat.add(base)
        sq8 = faiss.IndexScalarQuantizer(D, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        sq8.train(base)
        sq8.add(base)
        _, exact_ids = flat.search(queries, K)
        lines += [
            "## N = %s" % format(n, ","),
            "",
            "| nq | FlatVec int8 | FlatVec float32 | speed-up | FAISS IndexFlatIP | numpy | FAISS SQ8 (recall@10) "
            "| rows rescored / query | bytes / query int8 | bytes / query float32 | exact |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for nq in BATCHES:
            q = queries[:nq]
            t_flat = warm_best_of(args.repeats, lambda: flat.search(q, K))
            t_numpy = warm_best_of(args.repeats, lambda: numpy_top_k(q, base))
            t_sq8 = warm_best_of(args.repeats, lambda: sq8.search(q, K))
            _, sq8_ids = sq8.search(q, K)
            recall = np.mean([len(set(sq8_ids[i]) & set(exact_ids[i])) / K for i in range(nq)])
            a, b = int8[nq], f32[nq]
            rescored = a["rescored_per_query"]
            bytes_int8 = n * (D + 48) / nq + rescored * D * 4
            bytes_f32 = n * D * 4 / nq
            lines.append("| %d | %.2f | %.2f | %.2fx | %.2f | %.2f | %.2f (%.3f) | %.0f | %.1f MB | %.1f MB | %s |" % (
                nq, a["seconds"] * 1e3, b["seconds"] * 1e3, b["seconds"] / a["seconds"], t_flat * 1e3,
                t_numpy * 1e3, t_sq8 * 1e3, recall, rescored, bytes_int8 / 1e6, bytes_f32 / 1e6,
                "yes" if a["mismatches"] == 0 else "NO: %d queries differ" % a["mismatches"]))
            print(lines[-1], flush=True)
        lines += ["", "int8 codes and figures: %.1f MB (float32 vectors: %.1f MB)." % (
            int8[BATCHES[0]]["code_bytes"] / 1e6, n * D * 4 / 1e6), ""]
        del flat, sq8, base
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        with open(os.path.join(HERE, "int8-latest.md"), "w") as f:
            f.write(provenance.line(os.path.join(ROOT, ".build", "release", "flatvec")) + "\n\n" + text)


if __name__ == "__main__":
    main()
