#!/usr/bin/env python3
"""FlatVec against FAISS IndexFlatIP and numpy brute force, on identical data, in one run.

    python3 Benchmarks/compare/run.py            # full: N = 100,000 x 512, nq up to 1,024
    python3 Benchmarks/compare/run.py --quick    # a few minutes on 2 cores: N = 20,000

Creates a virtual environment in Benchmarks/compare/.venv with the pinned requirements the first
time, builds `flatvec` in release mode if needed, generates the data with fixed seeds (random unit
vectors; and a clustered catalogue where each product has several nearby photos), runs every system
on the same workloads, checks they return the same neighbours, prints one table and writes it to
Benchmarks/compare/results-latest.md with plots in Benchmarks/compare/plots/. A --quick run writes to
Benchmarks/compare/quick/ instead (ignored by git), so it never overwrites the full results.
"""
import argparse
import atexit
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
VENV = os.path.join(HERE, ".venv")
FLATVEC = os.path.join(ROOT, ".build", "release", "flatvec")
UPDATES_BENCH = os.path.join(ROOT, ".build", "release", "flatvec-updates-bench")
SEARCH_BENCH = os.path.join(ROOT, ".build", "release", "flatvec-search-bench")
# FAISS IndexFlatIP, rebuild of N+1 (ms) for N = 100, 500, 1,000, 5,000, 10,000, as measured by the team that
# asked for FlatVec (the seeds' design: FAISS behind an asyncio lock); their incremental add was 0.45-0.49 ms.
SEEDS_REBUILD_MS = {100: 2.15, 500: 9.32, 1_000: 18.67, 5_000: 92.41, 10_000: 184.23}
SEEDS_ADD_MS = (0.45, 0.49)


def ensure_venv():
    """Re-executes this script inside the pinned virtual environment, creating it if needed."""
    python = os.path.join(VENV, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
        return
    if not os.path.exists(python):
        print("creating %s with %s" % (VENV, os.path.join(HERE, "requirements.txt")), flush=True)
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
        subprocess.check_call([python, "-m", "pip", "install", "-q", "-r", os.path.join(HERE, "requirements.txt")])
    os.execv(python, [python] + sys.argv)


ensure_venv()

import numpy as np  # noqa: E402
import faiss  # noqa: E402

# The FlatVec server column goes through the project's Python client (clients/python).
sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
from flatvec import Client  # noqa: E402
import provenance  # noqa: E402


def import_psycopg():
    """psycopg 3 from the benchmark venv, installed on first use (only the PostgreSQL runs need it)."""
    try:
        import psycopg
    except ImportError:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", "psycopg[binary]==3.2.13"])
        import psycopg
    return psycopg


def postgres_url():
    """FLATVEC_PG_URL, or the dev PostgreSQL (scripts/dev-postgres.sh start, which starts it if needed)."""
    url = os.environ.get("FLATVEC_PG_URL")
    if url:
        return url
    return subprocess.check_output(["bash", os.path.join(ROOT, "scripts", "dev-postgres.sh"), "start"], text=True).strip().splitlines()[-1]


def ensure_flatvec():
    # Always (incremental): a stale binary would measure old code.
    for product in ("flatvec", "flatvec-updates-bench", "flatvec-search-bench"):
        subprocess.check_call(["swift", "build", "-c", "release", "--product", product], cwd=ROOT)


def flatvec_compute_bound(n, d, k, batches, repeats):
    """flatvec-search-bench on random data: the machine's sgemm rate and each batch size against it."""
    out = subprocess.check_output([SEARCH_BENCH, "--n", str(n), "--dim", str(d), "--k", str(k),
                                   "--nq", ",".join(map(str, batches)), "--repeats", str(repeats)], text=True)
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    return lines[0], lines[1:]


def flatvec_updates(sizes, d, repeats):
    """FlatVec's FlatIndex in process: {N: (rebuild N+1, add 1, remove 1)} in seconds."""
    out = subprocess.check_output([UPDATES_BENCH, "--dim", str(d), "--sizes", ",".join(map(str, sizes)), "--repeats", str(repeats)])
    import json
    result = {}
    for line in out.decode().splitlines():
        row = json.loads(line)
        result[row["n"]] = (row["rebuild"], row["add"], row["remove"])
    return result


def unit_rows(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def random_dataset(n, d, seed):
    rng = np.random.default_rng(seed)
    return unit_rows(rng.standard_normal((n, d), dtype=np.float32)), np.zeros(n, dtype=np.int64)


def clustered_dataset(n, d, seed, photos=5, noise=0.55):
    """A catalogue: n / photos products, each a random direction, its photos that direction plus noise."""
    rng = np.random.default_rng(seed)
    products = n // photos
    centres = unit_rows(rng.standard_normal((products, d), dtype=np.float32))
    labels = np.repeat(np.arange(products, dtype=np.int64), photos)
    base = unit_rows(centres[labels] + rng.standard_normal((len(labels), d), dtype=np.float32) * (noise / np.sqrt(d)))
    return base, labels


def queries_for(base, nq, seed):
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(base), nq)
    d = base.shape[1]
    return unit_rows(base[picks] + rng.standard_normal((nq, d), dtype=np.float32) * (0.5 / np.sqrt(d)))


def best_of(repeats, fn):
    best, result = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def timed(run, repeats):
    """Best and median milliseconds of `repeats` calls of `run`."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[0] * 1e3, times[len(times) // 2] * 1e3


def start_flatvec_server(arguments, client_class, flatvec=FLATVEC):
    """A release `flatvec serve` (or the binary `flatvec`) on a free loopback port (OPENBLAS_CORETYPE
    and OPENBLAS_L2_SIZE unset), once a client of `client_class` connects: (process, port, client)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    server = subprocess.Popen([flatvec, "serve", "--port", str(port), "--log-level", "error"] + arguments, env=env)
    for _ in range(300):
        try:
            client = client_class("127.0.0.1:%d" % port)
            client.ping()
            return server, port, client
        except Exception:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("flatvec serve did not start")


def numpy_search(base, queries, k):
    scores = queries @ base.T
    part = np.argpartition(-scores, kth=min(k, scores.shape[1] - 1), axis=1)[:, :k]
    rows = np.arange(len(queries))[:, None]
    order = np.lexsort((part, -scores[rows, part]), axis=1)
    ids = part[rows, order]
    return ids, scores[rows, ids]


def flatvec_search(base_path, query_path, k, repeats):
    """FlatVec's FlatIndex in process (flatvec-search-bench): returns (best warm search seconds, first search seconds, ids).

    Warm like the numpy and FAISS columns: the index is built once, searched once untimed for the
    first-search figure, then `repeats` more times."""
    out = tempfile.mktemp(suffix=".npy")
    run = subprocess.run([SEARCH_BENCH, "--base", base_path, "--queries", query_path, "--k", str(k), "--repeats", str(repeats), "--out", out],
                         capture_output=True, text=True, check=True)
    timings = json.loads(run.stdout)
    ids = np.load(out)
    os.unlink(out)
    return timings["warm"], timings["first"], ids


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def agreement(reference_ids, reference_scores, ids, base, queries):
    """Share of queries whose ids match the reference, allowing swaps of neighbours whose scores tie within 1e-5."""
    ok = 0
    for q in range(len(queries)):
        if np.array_equal(reference_ids[q], ids[q]):
            ok += 1
            continue
        got_scores = np.sort(base[ids[q]] @ queries[q])[::-1]
        if np.allclose(got_scores, reference_scores[q], atol=1e-5):
            ok += 1
    return ok / len(queries)


def machine_info():
    cpu = provenance.cpu_model()
    info = subprocess.run([FLATVEC, "info"], capture_output=True, text=True).stdout
    kernel = re.search(r"blas kernel: (.*)", info)
    numpy_blas = "unknown"
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        numpy_blas = "%s %s" % (blas.get("name"), blas.get("version"))
    except Exception:
        pass
    try:
        from threadpoolctl import threadpool_info  # noqa: F401
    except Exception:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": "%s (BLAS: %s)" % (np.__version__, numpy_blas),
        "faiss": "%s (%s)" % (faiss.__version__, faiss.get_compile_options().strip()),
        "flatvec": "%s (BLAS kernel: %s)" % (info.splitlines()[0] if info else "?", kernel.group(1) if kernel else "?"),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N = 20,000 and fewer repeats: a few minutes")
    parser.add_argument("--no-server", action="store_true", help="skip the FlatVec server runs")
    args = parser.parse_args()
    ensure_flatvec()

    n = 20_000 if args.quick else 100_000
    d = 512
    k = 10
    batches = [1, 16, 256] if args.quick else [1, 16, 256, 1024]
    repeats = 3 if args.quick else 5
    machine = machine_info()
    print("machine: %s, %d cores" % (machine["cpu"], machine["cores"]))
    for key in ("numpy", "faiss", "flatvec"):
        print("%s: %s" % (key, machine[key]))

    rows = []
    workdir = tempfile.mkdtemp(prefix="flatvec-compare-")
    atexit.register(shutil.rmtree, workdir, ignore_errors=True)  # the data files are hundreds of MB
    server = None
    server_port = None
    if not args.no_server:
        server_port = free_port()
        server = subprocess.Popen([FLATVEC, "serve", "--port", str(server_port), "--sample-data", "none", "--log-level", "warning"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", server_port)).close()
                break
            except OSError:
                time.sleep(0.1)
    try:
        for dataset_name, (base, labels) in [("random", random_dataset(n, d, 1)), ("clustered", clustered_dataset(n, d, 2))]:
            base_path = os.path.join(workdir, "%s-base.npy" % dataset_name)
            np.save(base_path, base)
            index = faiss.IndexFlatIP(d)
            index.add(base)
            client = None
            if server is not None:
                client = Client("127.0.0.1:%d" % server_port)
                client.create_collection(dataset_name, d)
                for start in range(0, n, 10_000):
                    client.add(dataset_name, np.arange(start, min(n, start + 10_000), dtype=np.int64), base[start:start + 10_000], labels=labels[start:start + 10_000])
            for nq in batches:
                queries = queries_for(base, nq, 100 + nq)
                query_path = os.path.join(workdir, "%s-q%d.npy" % (dataset_name, nq))
                np.save(query_path, queries)
                t_numpy, (ref_ids, ref_scores) = best_of(repeats, lambda: numpy_search(base, queries, k))
                t_faiss, (faiss_scores, faiss_ids) = best_of(repeats, lambda: index.search(queries, k))
                t_flatvec, t_flatvec_first, flatvec_ids = flatvec_search(base_path, query_path, k, repeats)
                row = {
                    "workload": "%s N=%d nq=%d k=%d" % (dataset_name, n, nq, k),
                    "nq": nq, "dataset": dataset_name,
                    "numpy": t_numpy, "faiss": t_faiss, "flatvec": t_flatvec, "flatvec_first": t_flatvec_first,
                    "agree_faiss": agreement(ref_ids, ref_scores, faiss_ids, base, queries),
                    "agree_flatvec": agreement(ref_ids, ref_scores, flatvec_ids, base, queries),
                }
                if client is not None:
                    t_server, server_result = best_of(repeats, lambda: client.search(dataset_name, queries, k))
                    row["server"] = t_server
                    row["agree_server"] = agreement(ref_ids, ref_scores, server_result.ids, base, queries)
                rows.append(row)
                print("%-34s numpy %8.2f ms  faiss %8.2f ms  flatvec %8.2f ms%s" % (
                    row["workload"], t_numpy * 1e3, t_faiss * 1e3, t_flatvec * 1e3,
                    ("  server %8.2f ms" % (row["server"] * 1e3)) if "server" in row else ""), flush=True)
            if client is not None:
                client.close()

        # Rebuild against incremental add and remove, in process on both sides (FlatVec's FlatIndex through
        # flatvec-updates-bench, FAISS IndexFlatIP here); the FlatVec server's round trips as their own series.
        rebuild = []
        sizes = [100, 500, 1_000, 5_000, 10_000] + ([] if args.quick else [100_000])
        pool, _ = random_dataset(max(sizes) + 2, d, 3)
        flatvec_inproc = flatvec_updates(sizes, d, repeats)
        client = Client("127.0.0.1:%d" % server_port) if server is not None else None
        for size in sizes:
            t_rebuild, _ = best_of(repeats, lambda: faiss.IndexFlatIP(d).add(pool[:size + 1]))
            idx = faiss.IndexFlatIP(d)
            idx.add(pool[:size])
            one = pool[size:size + 1]
            t_add, _ = best_of(repeats, lambda: idx.add(one))
            # remove_ids on a flat index compacts the rows after the removed one: O(N). Remove one from the
            # middle, then put a row back (untimed) so N stays the same.
            t_remove = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                idx.remove_ids(np.array([size // 2], dtype=np.int64))
                t_remove = min(t_remove, time.perf_counter() - start)
                idx.add(one)
            f_rebuild, f_add, f_remove = flatvec_inproc[size]
            entry = {"n": size, "faiss_rebuild": t_rebuild, "faiss_add": t_add, "faiss_remove": t_remove,
                     "flatvec_rebuild": f_rebuild, "flatvec_add": f_add, "flatvec_remove": f_remove,
                     "server_rebuild": None, "server_add": None}
            if client is not None:
                counter = [0]

                def server_rebuild():
                    counter[0] += 1
                    name = "rebuild-%d-%d" % (size, counter[0])
                    client.create_collection(name, d)
                    # Frames are capped at 64 MiB: send the rows in ADDs of at most 10,000 vectors.
                    for start in range(0, size + 1, 10_000):
                        end = min(size + 1, start + 10_000)
                        client.add(name, np.arange(start, end, dtype=np.int64), pool[start:end])
                entry["server_rebuild"], _ = best_of(repeats, server_rebuild)
                client.create_collection("grow-%d" % size, d)
                for start in range(0, size, 10_000):
                    end = min(size, start + 10_000)
                    client.add("grow-%d" % size, np.arange(start, end, dtype=np.int64), pool[start:end])
                ids = iter(range(size, size + 1000))
                entry["server_add"], _ = best_of(repeats, lambda: client.add("grow-%d" % size, [next(ids)], one))
            rebuild.append(entry)
            print("N=%-6d rebuild N+1: FAISS %.3f ms, FlatVec %.3f ms; add 1: FAISS %.4f ms, FlatVec %.4f ms; remove 1: FAISS %.4f ms, FlatVec %.4f ms" % (
                size, t_rebuild * 1e3, f_rebuild * 1e3, t_add * 1e3, f_add * 1e3, t_remove * 1e3, f_remove * 1e3), flush=True)
        if client is not None:
            client.close()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)

    # In process against the machine's own limit: the sgemm rate measured in the same run.
    sgemm, bound = flatvec_compute_bound(n, d, k, [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024] if not args.quick else [1, 8, 32, 256], repeats)
    print("sgemm %.1f GFLOP/s on %d threads (%s)" % (sgemm["sgemm_gflops"], sgemm["threads"], sgemm["kernel"]))
    for b in bound:
        print("nq=%-5d %8.2f ms, sgemm bound %8.2f ms, %.0f%% of it" % (b["nq"], b["seconds"] * 1e3, b["bound_seconds"] * 1e3, b["fraction"] * 100))

    write_report(rows, rebuild, machine, args.quick, n, d, sgemm, bound)
    failed = [r for r in rows if min(r["agree_faiss"], r["agree_flatvec"], r.get("agree_server", 1.0)) < 1.0]
    if failed:
        print("DISAGREEMENT in: %s" % ", ".join(r["workload"] for r in failed))
        sys.exit(1)


def output_dir(quick):
    """Full runs write the committed report; quick runs write beside it, in a folder git ignores."""
    return os.path.join(HERE, "quick") if quick else HERE


def write_report(rows, rebuild, machine, quick, n, d, sgemm, bound):
    lines = []
    lines.append("Run on %s: %s, %d cores%s." % (time.strftime("%Y-%m-%d"), machine["cpu"], machine["cores"], " (--quick)" if quick else ""))
    lines.append("")
    lines.append("- numpy %s" % machine["numpy"])
    lines.append("- faiss-cpu %s" % machine["faiss"])
    lines.append("- %s" % machine["flatvec"])
    lines.append("")
    lines.append("Search, N = %d x d = %d, best of several runs, milliseconds (lower is better). FlatVec in process is a warm" % (n, d))
    lines.append("`FlatIndex` search (`flatvec-search-bench`: built once, searched once untimed, then timed), like the numpy and FAISS")
    lines.append("columns; FlatVec server is a SEARCH round trip over loopback from the project's Python client (clients/python).")
    lines.append("")
    has_server = any("server" in r for r in rows)
    header = "| workload | numpy | FAISS IndexFlatIP | FlatVec in process |" + (" FlatVec server |" if has_server else "") + " FlatVec / best other | same neighbours |"
    lines.append(header)
    lines.append("|" + "---|" * (header.count("|") - 1))
    for r in rows:
        best_other = min(r["numpy"], r["faiss"])
        agree = min(r["agree_faiss"], r["agree_flatvec"], r.get("agree_server", 1.0))
        cells = [r["workload"], "%.2f" % (r["numpy"] * 1e3), "%.2f" % (r["faiss"] * 1e3), "%.2f (first %.2f)" % (r["flatvec"] * 1e3, r["flatvec_first"] * 1e3)]
        if has_server:
            cells.append("%.2f" % (r["server"] * 1e3) if "server" in r else "-")
        cells += ["%.2f" % (r["flatvec"] / best_other), "%.1f%%" % (agree * 100)]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("In process against this machine's limit: sgemm at %.1f GFLOP/s (%d threads, one single-threaded %s sgemm" % (
        sgemm["sgemm_gflops"], sgemm["threads"], sgemm["kernel"]))
    lines.append("each, 512 x 4096 x %d blocks, measured in the same run); bound = 2 x nq x N x d / that rate; random data, N = %d, k = %d," % (d, sgemm["n"], sgemm["k"]))
    lines.append("best of several warm searches (`flatvec-search-bench`).")
    lines.append("")
    lines.append("| nq | FlatVec ms | sgemm bound ms | fraction of the bound |")
    lines.append("|---|---|---|---|")
    for b in bound:
        lines.append("| %d | %.2f | %.2f | %.0f%% |" % (b["nq"], b["seconds"] * 1e3, b["bound_seconds"] * 1e3, b["fraction"] * 100))
    lines.append("")
    lines.append("Updates at d = %d, in process on both sides (FlatVec `FlatIndex` through `flatvec-updates-bench`, FAISS" % d)
    lines.append("`IndexFlatIP` from Python), best of several runs, milliseconds: rebuild an index of N+1 vectors, add 1 vector to an")
    lines.append("index of N, remove 1 vector from an index of N (FAISS `remove_ids` compacts the rows after it). The seeds' column")
    lines.append("is FAISS rebuild as measured by the team that asked for FlatVec, on their machine (their add: %.2f-%.2f ms)." % SEEDS_ADD_MS)
    lines.append("The FlatVec server columns are round trips over loopback (CREATE + ADDs; one ADD of 1 vector): a different thing,")
    lines.append("shown apart.")
    lines.append("")
    lines.append("| N | FAISS rebuild N+1 | FlatVec rebuild N+1 | seeds' FAISS rebuild | FAISS add 1 | FlatVec add 1 | FAISS remove 1 | FlatVec remove 1 | server: rebuild N+1 | server: ADD 1 round trip |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    fmt = lambda v: "-" if v is None else ("%.4f" % (v * 1e3) if v < 1e-3 else "%.3f" % (v * 1e3))
    for e in rebuild:
        seeds = SEEDS_REBUILD_MS.get(e["n"])
        lines.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            e["n"], fmt(e["faiss_rebuild"]), fmt(e["flatvec_rebuild"]), "-" if seeds is None else "%.2f" % seeds,
            fmt(e["faiss_add"]), fmt(e["flatvec_add"]), fmt(e["faiss_remove"]), fmt(e["flatvec_remove"]),
            fmt(e["server_rebuild"]), fmt(e["server_add"])))
    text = "\n".join(lines) + "\n"
    out = output_dir(quick)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results-latest.md"), "w") as f:
        f.write(provenance.line(FLATVEC) + "\n\n" + text)
    print()
    print(text)
    make_plots(rows, rebuild, out, n, d)


def save_log_log(plt, fig, ax, xlabel, title, path, legend_size=None):
    """Log-log axes in milliseconds, grid, legend; writes the figure to `path` and closes it."""
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("milliseconds")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=legend_size)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def make_plots(rows, rebuild, out, n, d):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plots = os.path.join(out, "plots")
    os.makedirs(plots, exist_ok=True)
    for dataset in sorted(set(r["dataset"] for r in rows)):
        subset = [r for r in rows if r["dataset"] == dataset]
        nqs = [r["nq"] for r in subset]
        fig, ax = plt.subplots(figsize=(6, 4))
        for key, name in [("numpy", "numpy"), ("faiss", "FAISS IndexFlatIP"), ("flatvec", "FlatVec (in process)"), ("server", "FlatVec server (loopback)")]:
            if all(key in r for r in subset):
                ax.plot(nqs, [r["nq"] / r[key] for r in subset], marker="o", label=name)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(nqs)
        ax.set_xticklabels([str(q) for q in nqs])
        ax.minorticks_off()
        ax.set_xlabel("queries per batch (nq)")
        ax.set_ylabel("queries per second")
        ax.set_title("Search throughput, %s data, N=%d, d=%d, k=10" % (dataset, n, d))
        ax.grid(True, which="major", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(plots, "throughput-%s.png" % dataset), dpi=110)
        plt.close(fig)
    sizes = [e["n"] for e in rebuild]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.plot(sizes, [e["faiss_rebuild"] * 1e3 for e in rebuild], marker="o", color="tab:orange", label="FAISS: rebuild N+1 (in process)")
    ax.plot(sizes, [e["flatvec_rebuild"] * 1e3 for e in rebuild], marker="s", color="tab:blue", label="FlatVec: rebuild N+1 (in process)")
    ax.plot(sizes, [e["faiss_add"] * 1e3 for e in rebuild], marker="o", linestyle="--", color="tab:orange", label="FAISS: add 1 (in process)")
    ax.plot(sizes, [e["flatvec_add"] * 1e3 for e in rebuild], marker="s", linestyle="--", color="tab:blue", label="FlatVec: add 1 (in process)")
    seeds = [s for s in sizes if s in SEEDS_REBUILD_MS]
    ax.plot(seeds, [SEEDS_REBUILD_MS[s] for s in seeds], marker="^", color="tab:gray", label="seeds' FAISS: rebuild N+1 (their machine)")
    ax.fill_between(seeds, SEEDS_ADD_MS[0], SEEDS_ADD_MS[1], color="tab:gray", alpha=0.3, label="seeds' FAISS: add 1 (their machine)")
    if all(e["server_add"] is not None for e in rebuild):
        ax.plot(sizes, [e["server_add"] * 1e3 for e in rebuild], marker="x", linestyle=":", color="tab:green",
                label="FlatVec server: ADD 1, round trip over loopback")
    save_log_log(plt, fig, ax, "vectors already in the index (N)", "Rebuild against incremental add, d=%d" % d,
                 os.path.join(plots, "rebuild-vs-add.png"), legend_size=7)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, [e["faiss_remove"] * 1e3 for e in rebuild], marker="o", color="tab:orange", label="FAISS IndexFlatIP.remove_ids (1 id)")
    ax.plot(sizes, [e["flatvec_remove"] * 1e3 for e in rebuild], marker="s", color="tab:blue", label="FlatVec FlatIndex.remove (1 id)")
    save_log_log(plt, fig, ax, "vectors in the index (N)", "Remove one vector, in process, d=%d" % d,
                 os.path.join(plots, "remove.png"))


if __name__ == "__main__":
    main()
