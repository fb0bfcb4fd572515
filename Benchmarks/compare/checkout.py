#!/usr/bin/env python3
"""Many checkout lanes at once: FlatVec against the seeds' design, and the Python client against the Swift one.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/checkout.py [--n 100000] [--seconds 10]

Same embeddings everywhere (N random unit vectors, d = 512), one-query searches with k = 10, closed
loop (every lane sends its next query when the last is answered) at 1, 2, 4, 8, 16, 32 and 64 lanes:

- the FlatVec server itself, over its binary protocol (flatvec-client-rtt --clients C: C Swift
  client connections), twice: with its default scan (int8 first pass where the CPU has a fast int8
  kernel) and with `--scan float32`, the path before the int8 first pass;
- examples/checkout-service (FastAPI + the FlatVec AsyncClient) and the seeds' design (FastAPI + FAISS
  IndexFlatIP + aiorwlock, seeds_service.py), each under uvicorn with one worker, loaded by wrk
  (Debian's package) posting one embedding per request to POST /checkout/identify.

Also: one-query SEARCH round trips, p50/p99, from the Python AsyncClient and from the Swift client on
the same FlatVec server. Writes checkout-latest.md and plots/lanes.png here.
"""
import argparse
import atexit
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import ROOT, ensure_venv, free_port, machine_info  # noqa: E402

ensure_venv()
import numpy as np  # noqa: E402
import provenance  # noqa: E402

FLATVEC = os.path.join(ROOT, ".build", "release", "flatvec")
RTT = os.path.join(ROOT, ".build", "release", "flatvec-client-rtt")


def wait_for(port, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("nothing listens on %d" % port)


def wrk(port, body_path, connections, seconds):
    script = os.path.join(tempfile.gettempdir(), "flatvec-wrk.lua")
    with open(script, "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n')
        f.write('local f = io.open("%s")\nwrk.body = f:read("*a")\nf:close()\n' % body_path)
    out = subprocess.run(["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", "%ds" % seconds, "--latency",
                          "-s", script, "http://127.0.0.1:%d/checkout/identify" % port], capture_output=True, text=True, check=True).stdout
    def ms(label):
        m = re.search(r"%s\s+([\d.]+)(us|ms|s)" % label, out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError("wrk saw %s failed responses:\n%s" % (errors.group(1), out))
    return rate, ms("50%"), ms("99%")


def python_rtt(port, queries, count):
    import asyncio
    from flatvec import AsyncClient  # on the path through run.py

    async def main():
        async with AsyncClient("127.0.0.1:%d" % port, pool_size=1) as c:
            times = []
            for i in range(count + 100):
                start = time.perf_counter()
                await c.search("products", queries[i % len(queries)], k=10)
                if i >= 100:
                    times.append(time.perf_counter() - start)
            times.sort()
            return times[len(times) // 2], times[len(times) * 99 // 100]
    return asyncio.run(main())


LANES = (1, 2, 4, 8, 16, 32, 64)


def plot_lanes(rows, path, n, d):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    lanes = [r[0] for r in rows]
    for column, name, style in [(1, "FlatVec server (binary protocol, default scan)", "s-"),
                                (4, "FlatVec server --scan float32", "^:"),
                                (2, "FlatVec checkout service (FastAPI)", "s--"),
                                (3, "seeds' design (FastAPI + FAISS + aiorwlock)", "o-")]:
        left.plot(lanes, [r[column][0] for r in rows], style, label=name)
        right.plot(lanes, [r[column][2] for r in rows], style, label=name)
    for ax, title, label in [(left, "Throughput", "queries / s"), (right, "p99 latency", "ms")]:
        ax.set_xscale("log", base=2)
        ax.set_xticks(lanes)
        ax.set_xticklabels([str(x) for x in lanes])
        ax.set_xlabel("closed-loop lanes (one query each, k = 10)")
        ax.set_ylabel(label)
        ax.set_title("%s, N = %d x %d" % (title, n, d))
        ax.grid(True, alpha=0.3)
    right.set_yscale("log")
    left.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    for product in ("flatvec", "flatvec-client-rtt"):
        subprocess.check_call(["swift", "build", "-c", "release", "--product", product], cwd=ROOT)
    d = 512
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((args.n, d)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    labels = np.arange(args.n, dtype=np.int64) // 5
    queries = vectors[rng.integers(0, args.n, 200)] + 0.05 * rng.standard_normal((200, d)).astype(np.float32)
    work = tempfile.mkdtemp(prefix="flatvec-checkout-")
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # the data files are hundreds of MB
    np.save(os.path.join(work, "v.npy"), vectors)
    np.save(os.path.join(work, "l.npy"), labels)
    queries.astype("<f4").tofile(os.path.join(work, "q.f32"))
    body = os.path.join(work, "body.json")
    with open(body, "w") as f:
        json.dump({"embedding": queries[0].tolist(), "k": 10}, f)

    flatvec_port, app_port, seeds_port, float32_port = free_port(), free_port(), free_port(), free_port()
    processes = []
    try:
        processes.append(subprocess.Popen([FLATVEC, "serve", "--port", str(flatvec_port), "--sample-data", "none", "--log-level", "error"]))
        processes.append(subprocess.Popen([FLATVEC, "serve", "--port", str(float32_port), "--sample-data", "none",
                                           "--log-level", "error", "--scan", "float32"]))
        wait_for(flatvec_port)
        wait_for(float32_port)
        import flatvec
        # The checkout service identifies only visible products (a filter FlatVec applies before
        # ranking), so the catalogue declares the attributes it reads; every product is visible.
        for port in (flatvec_port, float32_port):
            with flatvec.Client("127.0.0.1:%d" % port) as c:
                c.create_collection("products", d, attributes={"visible": "bool", "category": "keyword"})
                for start in range(0, args.n, 10_000):
                    end = min(args.n, start + 10_000)
                    c.add("products", np.arange(start, end), vectors[start:end], labels=labels[start:end],
                          attributes=[{"visible": True, "category": "c%d" % (i % 20)} for i in range(start, end)])
        with flatvec.Client("127.0.0.1:%d" % flatvec_port) as c:
            scan = c.stats().collections[0].scan
        env = dict(os.environ, FLATVEC_ADDRESS="127.0.0.1:%d" % flatvec_port, PYTHONPATH=os.path.join(ROOT, "clients", "python", "src"))
        uvicorn = os.path.join(os.path.dirname(sys.executable), "uvicorn")
        processes.append(subprocess.Popen([uvicorn, "app:app", "--port", str(app_port), "--log-level", "warning"],
                                          cwd=os.path.join(ROOT, "examples", "checkout-service"), env=env))
        env_seeds = dict(os.environ, FAISS_CATALOGUE=os.path.join(work, "v.npy"), LABELS=os.path.join(work, "l.npy"))
        processes.append(subprocess.Popen([uvicorn, "seeds_service:app", "--port", str(seeds_port), "--log-level", "warning"], cwd=HERE, env=env_seeds))
        wait_for(app_port)
        wait_for(seeds_port)

        py = python_rtt(flatvec_port, queries, 2000)
        swift = json.loads(subprocess.check_output([RTT, "--server", "127.0.0.1:%d" % flatvec_port, "--collection", "products",
                                                    "--queries", os.path.join(work, "q.f32"), "--dim", str(d), "--count", "2000"]))
        rows = []
        for connections in LANES:
            direct = json.loads(subprocess.check_output([RTT, "--server", "127.0.0.1:%d" % flatvec_port, "--collection", "products",
                                                         "--queries", os.path.join(work, "q.f32"), "--dim", str(d), "--k", "10",
                                                         "--clients", str(connections), "--seconds", str(args.seconds)]))
            server = (direct["qps"], direct["p50"] * 1e3, direct["p99"] * 1e3)
            plain = json.loads(subprocess.check_output([RTT, "--server", "127.0.0.1:%d" % float32_port, "--collection", "products",
                                                        "--queries", os.path.join(work, "q.f32"), "--dim", str(d), "--k", "10",
                                                        "--clients", str(connections), "--seconds", str(args.seconds)]))
            float32 = (plain["qps"], plain["p50"] * 1e3, plain["p99"] * 1e3)
            ours = wrk(app_port, body, connections, args.seconds)
            theirs = wrk(seeds_port, body, connections, args.seconds)
            rows.append((connections, server, ours, theirs, float32))
            print("lanes=%-3d FlatVec server (%s) %.1f q/s p50 %.2f p99 %.2f | float32 %.1f q/s p50 %.2f p99 %.2f | FlatVec service %.1f q/s p50 %.2f p99 %.2f | seeds %.1f q/s p50 %.2f p99 %.2f" % (
                (connections, scan) + server + float32 + ours + theirs), flush=True)
    finally:
        for p in processes:
            p.terminate()
            p.wait(timeout=30)

    machine = machine_info()
    lines = ["Run on %s: %s, %d cores; %s; faiss-cpu %s." % (time.strftime("%Y-%m-%d"), machine["cpu"], machine["cores"], machine["flatvec"], machine["faiss"]),
             "", "One-query SEARCH round trip (k = 10, N = %d x %d, loopback, ms):" % (args.n, d), "",
             "| client | p50 | p99 |", "|---|---|---|",
             "| Python AsyncClient | %.3f | %.3f |" % (py[0] * 1e3, py[1] * 1e3),
             "| Swift FlatVecClient | %.3f | %.3f |" % (swift["p50"] * 1e3, swift["p99"] * 1e3), "",
             "Closed-loop lanes, one-query searches, k = 10, %d s per row; q/s, p50 and p99 in ms. FlatVec server: its binary" % args.seconds,
             "protocol from C Swift client connections (flatvec-client-rtt), with its default scan (here: %s) and with" % scan,
             "--scan float32. The two services: POST /checkout/identify under wrk,",
             "examples/checkout-service (FastAPI + FlatVec AsyncClient; it searches only visible products, here all of them) and the seeds' design (FastAPI + FAISS IndexFlatIP + aiorwlock),",
             "same embeddings, one uvicorn worker each. The load generator shares the machine's cores with the server.", "",
             "| lanes | FlatVec server q/s | p50 | p99 | --scan float32 q/s | p50 | p99 | FlatVec service q/s | p50 | p99 | seeds' service q/s | p50 | p99 |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for connections, server, ours, theirs, float32 in rows:
        lines.append("| %d | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f |" % (
            (connections,) + server + float32 + ours + theirs))
    plot_lanes(rows, os.path.join(HERE, "plots", "lanes.png"), args.n, d)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "checkout-latest.md"), "w") as f:
        f.write(provenance.line(FLATVEC) + "\n\n" + text)
    print()
    print(text)


if __name__ == "__main__":
    main()
