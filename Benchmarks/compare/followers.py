#!/usr/bin/env python3
"""Servers following one PostgreSQL: replication lag, and search throughput with 1, 2 and 3 servers.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/followers.py [--seconds 10] [--n 100000]

Starts (or uses, with FLATVEC_PG_URL) the PostgreSQL of scripts/dev-postgres.sh, makes a fresh
database, and runs three `flatvec serve --postgres` on it (A, B, C), all on this machine.

- Lag: a collection of 10,000 x 512 is loaded through A; flatvec-follow-bench then sends
  single-vector ADDs to A at 100 and at 1,000 per second (open loop, 16 connections) and, for a
  sample of them (100 a second), searches B with the new vector (k = 1) from the moment A replies
  until B's top hit is that id: lag = commit on A (which precedes A's reply) to visible in a search on B.
- Throughput: N x 512 random unit vectors are loaded through A (B and C follow them); 32 closed-loop
  clients send one-query SEARCHes (k = 10) spread over 1, 2 or 3 servers (flatvec-client-rtt). On
  one 2-core machine the servers share the cores, so the point is that it does not fall.

Writes followers-latest.md beside this script.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import ROOT, ensure_venv, free_port, import_psycopg, machine_info, postgres_url, unit_rows  # noqa: E402

ensure_venv()
import numpy as np  # noqa: E402

psycopg = import_psycopg()

sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
from flatvec import Client  # noqa: E402
import provenance  # noqa: E402

BUILD = os.path.join(ROOT, ".build", "release")
FLATVEC = os.path.join(BUILD, "flatvec")
D = 512


def fresh_database(url, name):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)
        conn.execute("CREATE DATABASE %s" % name)
    db = url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return db


def start_server(db):
    port = free_port()
    process = subprocess.Popen([FLATVEC, "serve", "--port", str(port), "--postgres", db, "--log-level", "error"])
    for _ in range(300):
        try:
            c = Client("127.0.0.1:%d" % port)
            c.ping()
            return process, port, c
        except Exception:
            time.sleep(0.1)
    raise RuntimeError("flatvec serve did not come up")


def load(client, name, vectors):
    client.create_collection(name, D)
    for start in range(0, len(vectors), 5_000):
        end = min(len(vectors), start + 5_000)
        client.add(name, np.arange(start, end), vectors[start:end])


def wait_for_count(clients, name, n, seconds=300):
    deadline = time.time() + seconds
    for c in clients:
        while True:
            counts = {i.name: i.count for i in c.list_collections()}
            if counts.get(name) == n:
                break
            if time.time() > deadline:
                raise RuntimeError("a follower did not reach %d vectors in %s" % (n, name))
            time.sleep(0.2)


def sql_lag(db, reader_port, rate, seconds, first_id, writers=8):
    """Plain SQL INSERTs of single 512-d rows into fv_lag at `rate` per second (open loop, autocommit,
    `writers` connections), and for 100 of them a second: search the reader (k = 1) from the commit
    until its top hit is that id (one prober thread, probes in commit order)."""
    import queue
    import threading

    rng = np.random.default_rng(first_id)
    total = int(rate * seconds)
    sample = max(1, rate // 100)
    start = time.perf_counter() + 0.2
    probes = queue.Queue()
    lags, late, lost, done = [], [0], [0], [0]
    lock = threading.Lock()

    def write(w):
        with psycopg.connect(db, autocommit=True) as conn:
            for i in range(w, total, writers):
                due = start + i / rate
                now = time.perf_counter()
                if now < due:
                    time.sleep(due - now)
                elif now - due > 0.005:
                    with lock:
                        late[0] += 1
                v = unit_rows(rng.standard_normal((1, D)).astype(np.float32))[0]
                literal = "[" + ",".join("%r" % float(x) for x in v) + "]"
                conn.execute("INSERT INTO fv_lag (id, embedding) VALUES (%s, %s::vector)", (first_id + i, literal))
                committed = time.perf_counter()
                with lock:
                    done[0] += 1
                if i % sample == 0:
                    probes.put((first_id + i, v, committed))
        probes.put(None)

    def probe():
        c = Client("127.0.0.1:%d" % reader_port)
        finished = 0
        while finished < writers:
            item = probes.get()
            if item is None:
                finished += 1
                continue
            id_, v, committed = item
            while True:
                r = c.search("lag", v[None, :], k=1)
                if int(r.ids[0][0]) == id_:
                    with lock:
                        lags.append(time.perf_counter() - committed)
                    break
                if time.perf_counter() - committed > 10:
                    with lock:
                        lost[0] += 1
                    break
        c.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)] + [threading.Thread(target=probe)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    lags.sort()
    return {"rate": rate, "achieved": done[0] / elapsed, "samples": len(lags), "p50": lags[len(lags) // 2],
            "p99": lags[min(len(lags) - 1, len(lags) * 99 // 100)], "max": lags[-1], "late": late[0], "lost": lost[0],
            "through": "plain SQL (psycopg)"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--n", type=int, default=100_000)
    args = parser.parse_args()
    for product in ["flatvec", "flatvec-follow-bench", "flatvec-client-rtt"]:
        subprocess.check_call(["swift", "build", "-c", "release", "--product", product], cwd=ROOT)
    db = fresh_database(postgres_url(), "flatvec_bench_followers")
    servers = [start_server(db) for _ in range(3)]
    ports = [p for _, p, _ in servers]
    a, b, c = (client for _, _, client in servers)
    try:
        rng = np.random.default_rng(7)
        load(a, "lag", unit_rows(rng.standard_normal((10_000, D)).astype(np.float32)))
        wait_for_count([b, c], "lag", 10_000)
        lag = []
        runs = [(100, "A", [ports[0]]), (400, "A", [ports[0]]), (1000, "A", [ports[0]]), (1000, "A and C", [ports[0], ports[2]])]
        for i, (rate, through, writers) in enumerate(runs):
            out = subprocess.check_output([
                os.path.join(BUILD, "flatvec-follow-bench"), "--writer", ",".join("127.0.0.1:%d" % p for p in writers),
                "--reader", "127.0.0.1:%d" % ports[1], "--collection", "lag", "--dim", str(D), "--rate", str(rate),
                "--seconds", str(args.seconds), "--first-id", str(1_000_000 * (i + 1)),
            ], text=True)
            lag.append(dict(json.loads(out.strip().splitlines()[-1]), through=through))
            print("lag", lag[-1], flush=True)
        for i, rate in enumerate([100, 1000]):
            lag.append(sql_lag(db, ports[1], rate, args.seconds, 10_000_000 * (i + 1)))
            print("lag", lag[-1], flush=True)

        base = unit_rows(rng.standard_normal((args.n, D)).astype(np.float32))
        load(a, "bench", base)
        wait_for_count([b, c], "bench", args.n)
        queries = unit_rows(rng.standard_normal((1_000, D)).astype(np.float32))
        query_path = os.path.join(tempfile.gettempdir(), "flatvec-followers-queries.f32")
        queries.tofile(query_path)
        throughput = []
        for count in [1, 2, 3]:
            out = subprocess.check_output([
                os.path.join(BUILD, "flatvec-client-rtt"), "--server", ",".join("127.0.0.1:%d" % p for p in ports[:count]),
                "--collection", "bench", "--queries", query_path, "--dim", str(D), "--clients", "32", "--seconds", str(args.seconds),
            ], text=True)
            throughput.append((count, json.loads(out.strip().splitlines()[-1])))
            print("throughput", throughput[-1], flush=True)
        stats = a.stats()
    finally:
        for process, _, client in servers:
            client.close()
            process.terminate()
            process.wait(timeout=60)
    write_report(lag, throughput, machine_info(), args, stats)


def ms(seconds):
    return "%.1f" % (seconds * 1000)


def write_report(lag, throughput, machine, args, stats):
    lines = [
        "# Followers: replication lag and throughput with 1 to 3 servers",
        "",
        "Written by `Benchmarks/compare/followers.py` (%s s per run, N = %d x %d for throughput)." % (args.seconds, args.n, D),
        "",
        "Machine: %s, %d cores; %s; BLAS kernel %s (int8 scan where the CPU has a fast kernel)."
        % (machine["cpu"], machine["cores"], machine["flatvec"], stats.blas_kernel),
        "Three `flatvec serve --postgres` and PostgreSQL 18 (dev-postgres.sh, default fsync) share this machine.",
        "",
        "## Replication lag: commit on the writer to visible in a search on B (single-vector ADDs, open loop)",
        "",
        "| written through | offered adds/s | achieved adds/s | samples | p50 ms | p99 ms | max ms | late sends | never seen |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in lag:
        lines.append("| %s | %d | %.0f | %d | %s | %s | %s | %d | %d |" % (
            r["through"], r["rate"], r["achieved"], r["samples"], ms(r["p50"]), ms(r["p99"]), ms(r["max"]), r["late"], r["lost"]))
    lines += [
        "",
        "A late send left more than 5 ms after its due time (the writer path could not keep up); never seen:",
        "not visible on B within 10 s. ADDs of one collection that arrive while another commits share the",
        "next PostgreSQL transaction (group commit); PostgreSQL, three servers and the load generators",
        "share this machine's cores, so at the highest rates the tail is the machine's.",
        "",
        "## Search throughput, 32 closed-loop clients spread over the servers (one-query SEARCH, k = 10)",
        "",
        "| servers | searches/s | p50 ms | p99 ms |",
        "|---:|---:|---:|---:|",
    ]
    for count, r in throughput:
        lines.append("| %d | %.0f | %s | %s |" % (count, r["qps"], ms(r["p50"]), ms(r["p99"])))
    lines.append("")
    path = os.path.join(HERE, "followers-latest.md")
    with open(path, "w") as f:
        f.write(provenance.line(FLATVEC) + "\n\n" + "\n".join(lines))
    print("\n".join(lines))
    print("wrote", path)


if __name__ == "__main__":
    main()
