#!/usr/bin/env python3
"""Checkout lanes while an admin adds products: do searches wait for writers?

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/lanes_under_writes.py [--n 100000] [--seconds 10] [--lanes 32]

A release `flatvec serve --data DIR` holding N x 512 random unit vectors (loaded, then restarted so
the catalogue is served as a restart leaves it). For each count of --lanes (default 32; e.g.
`--lanes 1,32`): that many lanes (flatvec-client-rtt --clients L: Swift client connections, closed
loop, one query each, k = 10) for --seconds, alone, while one more client pings every 10 ms (a
second client that writes nothing: on a 2-core machine its wake-ups alone take a share of the
cores), while that process appends 2 KiB to a file of its own and syncs it (fdatasync) every 10 ms,
with no server involved (what the disk write of an add costs the lanes by itself), and while it adds
one vector every 10 ms (through the Python client). --rounds rounds of the four, in a rotating order
so that drift falls on each alike; the table gives each one's median: q/s, p50, p99 of the lanes,
and the adds' p50 and longest.
--flatvec-before names another binary to measure in the same run (the build before a change).
Writes lanes-under-writes-latest.md (or --out) beside this script.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import ROOT, ensure_venv, start_flatvec_server, unit_rows  # noqa: E402

ensure_venv()
import numpy as np  # noqa: E402
import provenance  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
from flatvec import Client  # noqa: E402

FLATVEC = os.path.join(ROOT, ".build", "release", "flatvec")
RTT = os.path.join(ROOT, ".build", "release", "flatvec-client-rtt")
D = 512
LANES = 32


def lanes(port, queries, seconds, count):
    out = subprocess.check_output([RTT, "--server", "127.0.0.1:%d" % port, "--collection", "catalogue", "--queries", queries,
                                   "--dim", str(D), "--k", "10", "--clients", str(count), "--seconds", str(seconds)])
    r = json.loads(out)
    return r["qps"], r["p50"] * 1e3, r["p99"] * 1e3


def measure(flatvec, folder, name, n, queries, seconds, lane_counts, rounds):
    data = os.path.join(folder, name)
    process, port, client = start_flatvec_server(["--data", data], Client, flatvec=flatvec)
    client.create_collection("catalogue", D)
    for start in range(0, n, 20_000):
        end = min(start + 20_000, n)
        block = unit_rows(np.random.default_rng(1000 + start // 20_000).standard_normal((end - start, D), dtype=np.float32))
        client.add("catalogue", np.arange(start, end), block)
    client.close()
    process.send_signal(signal.SIGTERM)
    process.wait()
    process, port, client = start_flatvec_server(["--data", data], Client, flatvec=flatvec)
    results = []
    next_id = [1 << 40]
    # Each add is a new product: a vector of its own (one vector added again and again would fill
    # chunks with exact ties, which no bound can tell apart, and slow every later search).
    admin_rng = np.random.default_rng(5)
    modes = ("alone", "ping", "sync", "add")
    # What the admin's add costs the disk, without the server: a file on the data directory's file system.
    sync_fd = os.open(os.path.join(folder, name + ".sync"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    record = os.urandom(2048)

    def run(count, mode, latencies):
        """The lanes' (q/s, p50, p99) with the admin doing `mode` every 10 ms meanwhile."""
        stop = threading.Event()

        def admin():
            while not stop.is_set():
                start = time.perf_counter()
                if mode == "add":
                    vector = unit_rows(admin_rng.standard_normal((1, D), dtype=np.float32))
                    start = time.perf_counter()
                    client.add("catalogue", [next_id[0]], vector)
                    latencies.append(time.perf_counter() - start)
                    next_id[0] += 1
                elif mode == "sync":
                    os.write(sync_fd, record)
                    os.fdatasync(sync_fd)
                else:
                    client.ping()
                time.sleep(0.01)

        thread = threading.Thread(target=admin) if mode != "alone" else None
        if thread:
            thread.start()
        result = lanes(port, queries, seconds, count)
        stop.set()
        if thread:
            thread.join()
        return result

    for count in lane_counts:
        measured = {mode: [] for mode in modes}
        latencies = []
        for r in range(rounds):
            for mode in modes[r % len(modes):] + modes[:r % len(modes)]:
                measured[mode].append(run(count, mode, latencies))
        median = {mode: tuple(float(np.median([m[i] for m in measured[mode]])) for i in range(3)) for mode in modes}
        lat = np.array(latencies) * 1e3
        results.append((count, median["alone"], median["ping"], median["sync"], median["add"],
                        (len(lat), float(np.percentile(lat, 50)), float(lat.max()))))
    os.close(sync_fd)
    client.close()
    process.send_signal(signal.SIGTERM)
    process.wait()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of alone, pinging, syncing and adding")
    parser.add_argument("--flatvec-before", default=None)
    parser.add_argument("--before-label", default="before", help="what the table calls --flatvec-before (e.g. its commit)")
    parser.add_argument("--lanes", default=str(LANES), help="comma-separated lane counts")
    parser.add_argument("--out", default="lanes-under-writes-latest.md")
    args = parser.parse_args()
    lane_counts = [int(x) for x in args.lanes.split(",")]
    for product in ("flatvec", "flatvec-client-rtt"):
        subprocess.check_call(["swift", "build", "-c", "release", "--product", product], cwd=ROOT)
    rng = np.random.default_rng(0)
    folder = tempfile.mkdtemp(prefix="flatvec-lanes-")
    queries = os.path.join(folder, "q.f32")
    unit_rows(rng.standard_normal((2_000, D), dtype=np.float32)).tofile(queries)
    builds = [("this build", FLATVEC)] + ([(args.before_label, args.flatvec_before)] if args.flatvec_before else [])
    rows = []
    try:
        for name, binary in builds:
            for result in measure(binary, folder, name.replace(" ", "-"), args.n, queries, args.seconds, lane_counts, args.rounds):
                rows.append((name,) + result)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    lines = [
        "# Checkout lanes while an admin adds products (`flatvec serve --data DIR`)",
        "",
        "N = %d x %d random unit vectors, served after a restart; lanes are Swift client connections (closed loop,"
        " k = 10), %d s each; a second client pings every 10 ms, or syncs 2 KiB to a file of its own every 10 ms"
        " (no server involved), or adds one vector every 10 ms (the Python client). Medians of %d rounds;"
        " kept and the p99 ratio compare the adding admin with the lanes alone, then with the pinging"
        " one and the syncing one." % (args.n, D, args.seconds, args.rounds),
        "",
        "| build | lanes | alone q/s | p50 | p99 | pinging q/s | p99 | syncing q/s | p99 | adding q/s | p50 | p99 | kept (of pinging, syncing) | p99 ratio (to pinging, syncing) | admin adds | add p50 | add max |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, count, alone, ping, sync, written, adds in rows:
        lines.append("| %s | %d | %.0f | %.2f ms | %.2f ms | %.0f | %.2f ms | %.0f | %.2f ms | %.0f | %.2f ms | %.2f ms | %.0f%% (%.0f%%, %.0f%%) | %.2fx (%.2fx, %.2fx) | %d | %.2f ms | %.1f ms |" % (
            name, count, alone[0], alone[1], alone[2], ping[0], ping[2], sync[0], sync[2], written[0], written[1], written[2],
            100 * written[0] / alone[0], 100 * written[0] / ping[0], 100 * written[0] / sync[0],
            written[2] / alone[2], written[2] / ping[2], written[2] / sync[2], adds[0], adds[1], adds[2]))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, args.out), "w") as f:
        f.write(provenance.line(FLATVEC) + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
