#!/usr/bin/env python3
"""What TLS costs: the one-query SEARCH round trip and ADD of 1,000 x 512, plain TCP against TLS.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/tls.py [--n 100000]

Makes a CA and a server certificate (ECDSA P-256) with the openssl command, then runs two
`flatvec serve` (in memory, --sample-data none) one after the other: plain, and with
--tls-cert-file/--tls-key-file. Against each: N x 512 random unit vectors are loaded, then
flatvec-client-rtt times 2,000 one-query SEARCHes (k = 10, one connection, back to back) and 30 ADDs
of 1,000 x 512 (each a new set of ids), and 32 closed-loop clients for 10 s. Writes tls-latest.md.
"""
import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import ROOT, ensure_venv, free_port, machine_info, unit_rows  # noqa: E402

ensure_venv()
import numpy as np  # noqa: E402
import provenance  # noqa: E402

BUILD = os.path.join(ROOT, ".build", "release")
D = 512


def certificates(d):
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", *ec, "-days", "2", "-subj", "/CN=bench-ca", "-keyout", d + "/ca.key", "-out", d + "/ca.pem")
    run("req", *ec, "-subj", "/CN=localhost", "-keyout", d + "/server.key", "-out", d + "/server.csr")
    with open(d + "/server.ext", "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", d + "/server.csr", "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", d + "/server.ext", "-out", d + "/server.pem")


def rtt(port, args, tls_ca):
    command = [os.path.join(BUILD, "flatvec-client-rtt"), "--server", "127.0.0.1:%d" % port, "--collection", "bench", "--dim", str(D)] + args
    if tls_ca:
        command += ["--tls-ca-file", tls_ca]
    return json.loads(subprocess.check_output(command, text=True).strip().splitlines()[-1])


def measure(tls, d, base, query_path, seconds):
    port = free_port()
    extra = ["--tls-cert-file", d + "/server.pem", "--tls-key-file", d + "/server.key"] if tls else []
    server = subprocess.Popen([os.path.join(BUILD, "flatvec"), "serve", "--port", str(port), "--sample-data", "none",
                               "--log-level", "error"] + extra)
    ca = d + "/ca.pem" if tls else None
    try:
        time.sleep(1)
        for _ in range(100):
            try:
                subprocess.run([os.path.join(BUILD, "flatvec"), "list", "--server", "127.0.0.1:%d" % port] + (["--tls-ca-file", ca] if ca else []),
                               check=True, capture_output=True)
                break
            except subprocess.CalledProcessError:
                time.sleep(0.2)
        subprocess.run([os.path.join(BUILD, "flatvec"), "create", "--server", "127.0.0.1:%d" % port, "--collection", "bench", "--dim", str(D)]
                       + (["--tls-ca-file", ca] if ca else []), check=True, capture_output=True)
        base_path = os.path.join(tempfile.gettempdir(), "flatvec-tls-base.npy")
        np.save(base_path, base)
        subprocess.run([os.path.join(BUILD, "flatvec"), "add", "--server", "127.0.0.1:%d" % port, "--collection", "bench",
                        "--vectors", base_path, "--batch", "5000"] + (["--tls-ca-file", ca] if ca else []), check=True, capture_output=True)
        search = rtt(port, ["--queries", query_path, "--count", "2000"], ca)
        add = rtt(port, ["--queries", query_path, "--add-batches", "30", "--add-rows", "1000", "--first-id", "10000000"], ca)
        lanes = rtt(port, ["--queries", query_path, "--clients", "32", "--seconds", str(seconds)], ca)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {"search": search, "add": add, "lanes": lanes}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    for product in ["flatvec", "flatvec-client-rtt"]:
        subprocess.check_call(["swift", "build", "-c", "release", "--product", product], cwd=ROOT)
    d = tempfile.mkdtemp(prefix="flatvec-tls-bench-")
    atexit.register(shutil.rmtree, d, ignore_errors=True)  # the data files are hundreds of MB
    certificates(d)
    rng = np.random.default_rng(11)
    base = unit_rows(rng.standard_normal((args.n, D)).astype(np.float32))
    queries = unit_rows(rng.standard_normal((1_000, D)).astype(np.float32))
    query_path = os.path.join(d, "queries.f32")
    queries.tofile(query_path)
    results = {}
    for tls in (False, True, False, True):
        r = measure(tls, d, base, query_path, args.seconds)
        print("tls" if tls else "plain", r, flush=True)
        results.setdefault(tls, []).append(r)
    machine = machine_info()
    ms = lambda s: "%.3f" % (s * 1000)  # noqa: E731
    lines = [
        "# What TLS costs",
        "",
        "Written by `Benchmarks/compare/tls.py` (N = %d x %d; each configuration run twice, alternating; best of the two)." % (args.n, D),
        "",
        "Machine: %s, %d cores; %s. TLS 1.3, ECDSA P-256 server certificate, BoringSSL (swift-nio-ssl 2.37.6)."
        % (machine["cpu"], machine["cores"], machine["flatvec"]),
        "",
        "| measurement | plain TCP | TLS | TLS / plain |",
        "|---|---:|---:|---:|",
    ]
    def best(tls, path, key, fn=min):
        return fn(r[path][key] for r in results[tls])
    rows = [
        ("one-query SEARCH round trip p50 (ms)", "search", "p50", min, ms),
        ("one-query SEARCH round trip p99 (ms)", "search", "p99", min, ms),
        ("ADD 1,000 x 512 p50 (ms)", "add", "p50", min, ms),
        ("ADD 1,000 x 512 p99 (ms)", "add", "p99", min, ms),
        ("32 closed-loop lanes, searches/s", "lanes", "qps", max, lambda v: "%.0f" % v),
    ]
    for label, path, key, fn, fmt in rows:
        plain, tls = best(False, path, key, fn), best(True, path, key, fn)
        lines.append("| %s | %s | %s | %.2f |" % (label, fmt(plain), fmt(tls), tls / plain))
    lines.append("")
    with open(os.path.join(HERE, "tls-latest.md"), "w") as f:
        f.write(provenance.line(os.path.join(BUILD, "flatvec")) + "\n\n" + "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
