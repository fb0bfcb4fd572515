#!/usr/bin/env python3
"""Storage: memory, load, compaction stalls and restarts of `flatvec serve --data DIR`.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/storage.py [--n 1000000]

Two runs of a release `flatvec serve --data DIR` on a fresh directory in a temporary folder:

- small collections: 1,000 collections of 10 x 512 vectors each (one catalogue per tenant): the
  server's resident memory, anonymous and file-backed (/proc/PID/status), against the data's size.
- one catalogue of N x 512 random unit vectors (each batch of 20,000 a pool of 100,000 such
  vectors, reordered and with signs per dimension of its own), added in batches by one client
  while a second client adds one vector every 10 ms and times each add (the admin adding a product while a
  catalogue loads): the single adds' p50, p99 and longest, beside those of a plain 2 KiB append and
  fdatasync every 10 ms on the same file system meanwhile (the disk's floor for them, in the same
  run); the load rate, the bytes the server wrote
  (/proc/PID/io, so compactions included) against the bytes of vectors added, the directory's size,
  memory after the load and after searches, one lane's q/s. Then SIGTERM and a restart on the same
  directory: time until the port answers and until a first exact answer (checked against numpy),
  memory after a restart and searches, and then 1 and 32 lanes (flatvec-client-rtt: Swift client
  connections, closed loop, k = 10) for --search-seconds each: q/s, p50, p99. (SIGTERM is a clean
  stop: the server compacts its log first.) Last, 100,000 more vectors, SIGKILL, and a restart that
  replays their log (and its stage file): time to the port and to a first exact answer.

Writes storage-latest.md (or --out) beside this script.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import multiprocessing
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import ROOT, ensure_venv, free_port, unit_rows  # noqa: E402

ensure_venv()
import numpy as np  # noqa: E402
import provenance  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
from flatvec import Client  # noqa: E402

RTT = os.path.join(ROOT, ".build", "release", "flatvec-client-rtt")
D = 512
MIB = 1 << 20


def memory(pid):
    """(anonymous, file-backed) resident bytes of a process."""
    values = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem"):
                values[key] = int(rest.split()[0]) * 1024
    return values.get("RssAnon", 0), values.get("RssFile", 0) + values.get("RssShmem", 0)


def written_bytes(pid):
    with open("/proc/%d/io" % pid) as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    return 0


def directory_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


class Server:
    """A release `flatvec serve --data DIR` on a free port."""

    def __init__(self, flatvec, data):
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [flatvec, "serve", "--port", str(self.port), "--log-level", "error", "--data", data], env=env
        )
        self.address = "127.0.0.1:%d" % self.port

    def connect(self, timeout=600):
        """A client once the port answers; the seconds from start to then."""
        deadline = time.perf_counter() + timeout
        while True:
            try:
                client = Client(self.address)
                client.ping()
                return client, time.perf_counter() - self.started
            except Exception:
                if self.process.poll() is not None or time.perf_counter() > deadline:
                    raise SystemExit("flatvec serve did not start")
                time.sleep(0.005)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait()


def small_collections(flatvec, folder, count):
    data = os.path.join(folder, "small")
    server = Server(flatvec, data)
    client, _ = server.connect()
    rng = np.random.default_rng(1)
    for c in range(count):
        name = "tenant%04d" % c
        client.create_collection(name, D)
        client.add(name, np.arange(10), unit_rows(rng.standard_normal((10, D), dtype=np.float32)))
    client.search("tenant0000", unit_rows(rng.standard_normal((1, D), dtype=np.float32)), k=3)
    anon, file = memory(server.process.pid)
    client.close()
    server.stop()
    return {"collections": count, "anon": anon, "file": file, "vector_bytes": count * 10 * D * 4}


def lanes(port, queries_path, seconds, count):
    """(q/s, p50 ms, p99 ms) of `count` Swift client lanes."""
    out = subprocess.check_output([RTT, "--server", "127.0.0.1:%d" % port, "--collection", "catalogue", "--queries", queries_path,
                                   "--dim", str(D), "--k", "10", "--clients", str(count), "--seconds", str(int(seconds))])
    r = json.loads(out)
    return r["qps"], r["p50"] * 1e3, r["p99"] * 1e3


def lane_qps(client, queries, seconds):
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        client.search("catalogue", queries[done % len(queries)], k=10)
        done += 1
    return done / (time.perf_counter() - start)


def admin_adds(address, seed, stop, results):
    """Adds one new vector every 10 ms until `stop`, then puts the latencies (seconds) on `results`."""
    admin = Client(address)
    rng = np.random.default_rng(seed)
    latencies = []
    next_id = 1 << 40
    while not stop.is_set():
        # A vector of its own each time: one vector added again and again would fill chunks with
        # exact ties, which slow the searches measured after the load.
        vector = unit_rows(rng.standard_normal((1, D), dtype=np.float32))
        start = time.perf_counter()
        admin.add("catalogue", [next_id], vector)
        latencies.append(time.perf_counter() - start)
        next_id += 1
        time.sleep(0.01)
    admin.close()
    results.put(latencies)


def disk_probe(path, stop, results):
    """Appends 2 KiB to `path` and syncs it (fdatasync) every 10 ms until `stop`, then puts the
    latencies (seconds) on `results`: what the disk gives a small durable write, no server involved."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    record = os.urandom(2048)
    latencies = []
    while not stop.is_set():
        start = time.perf_counter()
        os.write(fd, record)
        os.fdatasync(fd)
        latencies.append(time.perf_counter() - start)
        time.sleep(0.01)
    os.close(fd)
    results.put(latencies)


POOL_ROWS = 100_000


def load_block(pool, b, rows):
    """Batch `b` of the load: `rows` rows of `pool` (random unit vectors) in an order and with signs
    per dimension of the batch's own. Still random unit vectors, and none the same as another
    batch's, for a gather and a multiply: drawing 512 normals per vector took the loader as long as
    the server took to store them, and the load rate is the server's."""
    rng = np.random.default_rng(1000 + b)
    signs = np.where(rng.random(D) < 0.5, -1.0, 1.0).astype(np.float32)
    return pool[rng.permutation(len(pool))[:rows]] * signs


def catalogue(flatvec, folder, n, search_seconds):
    data = os.path.join(folder, "catalogue")
    server = Server(flatvec, data)
    loader, _ = server.connect()
    loader.create_collection("catalogue", D)
    rng = np.random.default_rng(0)
    queries = unit_rows(rng.standard_normal((64, D), dtype=np.float32))
    # The admin runs in its own process, as another service would: a thread here would share the
    # loader's GIL and time the loader's encoding along with the server.
    stop = multiprocessing.Event()
    results = multiprocessing.Queue()
    admin = multiprocessing.Process(target=admin_adds, args=(server.address, 7, stop, results))
    # The disk's own floor in the same run: a small append and fdatasync beside the load's writes, on
    # the data directory's file system, as often as the admin's.
    probe_results = multiprocessing.Queue()
    probe = multiprocessing.Process(target=disk_probe, args=(os.path.join(folder, "probe.bin"), stop, probe_results))
    base_written = written_bytes(server.process.pid)
    admin.start()
    probe.start()
    batch = 20_000
    pool = unit_rows(np.random.default_rng(1000).standard_normal((POOL_ROWS, D), dtype=np.float32))
    started = time.perf_counter()
    kept = []
    for start in range(0, n, batch):
        end = min(start + batch, n)
        block = load_block(pool, start // batch, end - start)
        if start == 0:
            kept = block[:64].copy()
        loader.add("catalogue", np.arange(start, end), block)
    load_seconds = time.perf_counter() - started
    stop.set()
    latencies = results.get()
    admin.join()
    probe_lat = np.array(probe_results.get()) * 1e3
    probe.join()
    written = written_bytes(server.process.pid) - base_written
    added_bytes = (n + len(latencies)) * D * 4
    after_load = memory(server.process.pid)
    qps = lane_qps(loader, queries, search_seconds)
    after_search = memory(server.process.pid)
    loader.close()
    server.stop()
    lat = np.array(latencies) * 1e3
    result = {
        "n": n, "load_seconds": load_seconds, "rate": n / load_seconds, "single_adds": len(latencies),
        "add_p50": float(np.percentile(lat, 50)), "add_p99": float(np.percentile(lat, 99)), "add_max": float(lat.max()),
        "probe": (len(probe_lat), float(np.percentile(probe_lat, 50)), float(np.percentile(probe_lat, 99)), float(probe_lat.max())),
        "written": written, "added_bytes": added_bytes, "directory": directory_bytes(data),
        "after_load": after_load, "after_search": after_search, "qps": qps,
    }
    # Restart on the same directory: the port, then a first exact answer (row 7 of the first batch is its own best).
    server = Server(flatvec, data)
    client, listening = server.connect()
    hits = client.search("catalogue", kept[7], k=1)
    first_answer = time.perf_counter() - server.started
    result["restart_listening"] = listening
    result["restart_first_answer"] = first_answer
    result["restart_exact"] = int(hits.ids[0][0]) == 7
    result["after_restart"] = memory(server.process.pid)
    result["qps_restarted"] = lane_qps(client, queries, search_seconds)
    result["after_restart_search"] = memory(server.process.pid)
    queries_path = os.path.join(folder, "q.f32")
    queries.tofile(queries_path)
    result["lanes"] = [(count,) + lanes(server.port, queries_path, search_seconds, count) for count in (1, 32)]
    result["after_lanes"] = memory(server.process.pid)
    # A crash with a log to replay: 100,000 more vectors (about 200 MiB of log, below the 256 MiB
    # that triggers a compaction), then SIGKILL and a restart.
    for start in range(n, n + 100_000, 20_000):
        block = unit_rows(np.random.default_rng(start).standard_normal((20_000, D), dtype=np.float32))
        client.add("catalogue", np.arange(start, start + 20_000), block)
    client.close()
    result["crash_log"] = sum(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data) if f.endswith((".log", ".stage")))
    server.process.kill()
    server.process.wait()
    server = Server(flatvec, data)
    client, listening = server.connect()
    hits = client.search("catalogue", kept[7], k=1)
    result["crash_listening"] = listening
    result["crash_first_answer"] = time.perf_counter() - server.started
    result["crash_exact"] = int(hits.ids[0][0]) == 7 and client.list_collections()[0].count == n + 100_000 + result["single_adds"]
    client.close()
    server.stop()
    return result


def mib(b):
    return "%.0f MiB" % (b / MIB)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--collections", type=int, default=1_000)
    parser.add_argument("--search-seconds", type=float, default=20.0)
    parser.add_argument("--flatvec", default=os.path.join(ROOT, ".build", "release", "flatvec"))
    parser.add_argument("--out", default="storage-latest.md")
    args = parser.parse_args()
    if args.flatvec == os.path.join(ROOT, ".build", "release", "flatvec"):
        for product in ("flatvec", "flatvec-client-rtt"):
            subprocess.check_call(["swift", "build", "-c", "release", "--product", product], cwd=ROOT)
    folder = tempfile.mkdtemp(prefix="flatvec-storage-")
    try:
        small = small_collections(args.flatvec, folder, args.collections)
        big = catalogue(args.flatvec, folder, args.n, args.search_seconds)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = [
        "# Storage: memory, load, compaction stalls, restarts (`flatvec serve --data DIR`)",
        "",
        "Resident memory from /proc/PID/status (anonymous / file-backed); bytes written from /proc/PID/io.",
        "",
        "| small collections | resident anonymous | file-backed | vectors |",
        "|---|---|---|---|",
        "| %d x 10 x %d | %s | %s | %.1f MiB |" % (
            small["collections"], D, mib(small["anon"]), mib(small["file"]), small["vector_bytes"] / MIB),
        "",
        "One catalogue of N = %d x %d, loaded in batches of 20,000 while one client adds a vector every 10 ms:" % (big["n"], D),
        "",
        "| measure | value |",
        "|---|---|",
        "| load | %.1f s, %.0f vectors/s |" % (big["load_seconds"], big["rate"]),
        "| single add during the load (%d adds) | p50 %.2f ms, p99 %.2f ms, max %.1f ms |" % (
            big["single_adds"], big["add_p50"], big["add_p99"], big["add_max"]),
        "| the disk meanwhile: 2 KiB append + fdatasync every 10 ms, no server (%d) | p50 %.2f ms, p99 %.2f ms, max %.1f ms |" % big["probe"],
        "| bytes written / vector bytes added | %s / %s (%.1fx) |" % (
            mib(big["written"]), mib(big["added_bytes"]), big["written"] / big["added_bytes"]),
        "| data directory | %s |" % mib(big["directory"]),
        "| resident after the load (anon / file) | %s / %s |" % tuple(mib(x) for x in big["after_load"]),
        "| one lane, k = 10 | %.0f q/s |" % big["qps"],
        "| resident after %.0f s of searches | %s / %s |" % ((args.search_seconds,) + tuple(mib(x) for x in big["after_search"])),
        "| restart: port answers | %.2f s |" % big["restart_listening"],
        "| restart: first answer (exact: %s) | %.2f s |" % ("yes" if big["restart_exact"] else "NO", big["restart_first_answer"]),
        "| resident after the restart | %s / %s |" % tuple(mib(x) for x in big["after_restart"]),
        "| one lane after the restart | %.0f q/s |" % big["qps_restarted"],
        "| resident after %.0f s of searches | %s / %s |" % ((args.search_seconds,) + tuple(mib(x) for x in big["after_restart_search"])),
    ] + [
        "| %d Swift lanes after the restart | %.0f q/s, p50 %.1f ms, p99 %.1f ms |" % lane for lane in big["lanes"]
    ] + [
        "| resident after the lanes | %s / %s |" % tuple(mib(x) for x in big["after_lanes"]),
        "| restart after SIGKILL with %s of log to replay: port answers / first answer (exact, every row: %s) | %.2f s / %.2f s |" % (
            mib(big["crash_log"]), "yes" if big["crash_exact"] else "NO", big["crash_listening"], big["crash_first_answer"]),
    ]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, args.out), "w") as f:
        f.write(provenance.line(args.flatvec) + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
