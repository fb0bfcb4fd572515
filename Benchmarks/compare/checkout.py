#!/usr/bin/env python3
"""The checkout service on FlatVec against the seeds' design, and the Python client against the Swift one.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/checkout.py [--n 100000] [--seconds 10]

Same embeddings in both services (N random unit vectors, d = 512). Each service runs under uvicorn
(one worker); wrk (Debian's package) posts one embedding per request to POST /checkout/identify
(k = 1) with 1, 8 and 32 connections. Also: one-query SEARCH round trips, p50/p99, from the Python
AsyncClient and from the Swift client on the same FlatVec server. Writes checkout-latest.md here.
"""
import argparse
import json
import os
import re
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
    np.save(os.path.join(work, "v.npy"), vectors)
    np.save(os.path.join(work, "l.npy"), labels)
    queries.astype("<f4").tofile(os.path.join(work, "q.f32"))
    body = os.path.join(work, "body.json")
    with open(body, "w") as f:
        json.dump({"embedding": queries[0].tolist(), "k": 1}, f)

    flatvec_port, app_port, seeds_port = free_port(), free_port(), free_port()
    processes = []
    try:
        processes.append(subprocess.Popen([FLATVEC, "serve", "--port", str(flatvec_port), "--sample-data", "none", "--log-level", "error"]))
        wait_for(flatvec_port)
        import flatvec
        with flatvec.Client("127.0.0.1:%d" % flatvec_port) as c:
            c.create_collection("products", d)
            for start in range(0, args.n, 10_000):
                end = min(args.n, start + 10_000)
                c.add("products", np.arange(start, end), vectors[start:end], labels=labels[start:end])
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
        for connections in (1, 8, 32):
            ours = wrk(app_port, body, connections, args.seconds)
            theirs = wrk(seeds_port, body, connections, args.seconds)
            rows.append((connections, ours, theirs))
            print("c=%-3d FlatVec service %.1f q/s p50 %.2f ms p99 %.2f ms | seeds %.1f q/s p50 %.2f ms p99 %.2f ms" % ((connections,) + ours + theirs), flush=True)
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
             "POST /checkout/identify (k = 1), wrk, %d s per row: examples/checkout-service (FastAPI + FlatVec AsyncClient)" % args.seconds,
             "against the seeds' design (FastAPI + FAISS IndexFlatIP + aiorwlock), same embeddings, one uvicorn worker each:", "",
             "| connections | FlatVec service q/s | p50 ms | p99 ms | seeds' service q/s | p50 ms | p99 ms |", "|---|---|---|---|---|---|---|"]
    for connections, ours, theirs in rows:
        lines.append("| %d | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f |" % ((connections,) + ours + theirs))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "checkout-latest.md"), "w") as f:
        f.write(text)
    print()
    print(text)


if __name__ == "__main__":
    main()
