#!/usr/bin/env python3
"""Query groups through the server: a group of 8 query vectors (max and mean) against one query.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 Benchmarks/compare/groups.py [--n 100000]

N x 512 random unit vectors, 5 per label (a product's photos), in a `flatvec serve` (in memory,
release build). A burst of 8 frames of one stored product (its vector plus noise) is searched as one
group (`vectors_per_query=8`, k = 10 labels), against one frame alone, through the Python client
over loopback; best and median of 30 warm runs each, alternating. Each grouped answer is checked
against numpy over every vector of the group. Writes groups-latest.md beside this script.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import ROOT, ensure_venv, start_flatvec_server, timed, unit_rows  # noqa: E402

ensure_venv()
import numpy as np  # noqa: E402
import provenance  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "clients", "python", "src"))
from flatvec import Client  # noqa: E402

FLATVEC = os.path.join(ROOT, ".build", "release", "flatvec")
D = 512
K = 10


def expected_labels(base, labels, frames, aggregate):
    scores = frames @ base.T
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    per_label = np.maximum.reduceat(scores[:, order], np.r_[0, bounds], axis=1)  # (frames, labels)
    names = labels[order][np.r_[0, bounds]]
    agg = per_label.max(axis=0) if aggregate == "max" else per_label.mean(axis=0)
    return [int(names[i]) for i in np.argsort(-agg, kind="stable")[:K]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    subprocess.check_call(["swift", "build", "-c", "release", "--product", "flatvec"], cwd=ROOT)
    rng = np.random.default_rng(0)
    base = unit_rows(rng.standard_normal((args.n, D), dtype=np.float32))
    labels = np.arange(args.n, dtype=np.int64) // 5
    product = base[12_345]
    frames = unit_rows(product + 0.6 * unit_rows(rng.standard_normal((8, D), dtype=np.float32)))
    server, _, client = start_flatvec_server(["--sample-data", "none"], Client)
    rows = []
    try:
        client.create_collection("groups", D)
        for start in range(0, args.n, 20_000):
            end = min(start + 20_000, args.n)
            client.add("groups", np.arange(start, end), base[start:end], labels=labels[start:end])

        def one():
            return client.search("groups", frames[0], k=K, group_by_label=True)

        def group(aggregate):
            return lambda: client.search("groups", frames, k=K, group_by_label=True, vectors_per_query=8, aggregate=aggregate)

        checks = {}
        for aggregate in ("max", "mean"):
            got = group(aggregate)().labels[0].tolist()
            checks[aggregate] = got == expected_labels(base, labels, frames, aggregate)
        one_best, one_median = timed(one, args.repeats)
        rows.append(("1 query", one_best, one_median, "-"))
        sized = client.search("groups", frames[0], k=K, group_by_label=True, group_size=3)
        scores = base @ frames[0]
        want = []
        for label in expected_labels(base, labels, frames[:1], "max"):
            members = np.flatnonzero(labels == label)
            want += sorted(members.tolist(), key=lambda i: (-scores[i], i))[:3]
        best, median = timed(lambda: client.search("groups", frames[0], k=K, group_by_label=True, group_size=3), args.repeats)
        rows.append(("1 query, 3 hits per label", best, median, "yes" if sized.ids[0].tolist() == want else "NO"))
        for aggregate in ("max", "mean"):
            best, median = timed(group(aggregate), args.repeats)
            rows.append(("group of 8, %s" % aggregate, best, median, "yes" if checks[aggregate] else "NO"))
        client.close()
    finally:
        server.terminate()
        server.wait()
    lines = [
        "# Query groups: a burst of 8 frames as one query",
        "",
        "N = %d x %d random unit vectors, 5 per label; k = %d labels (group by label); 8 noisy frames of one stored"
        " vector; ms per request through the Python client over loopback, best / median of %d warm runs."
        % (args.n, D, K, args.repeats),
        "",
        "| request | best | median | against 1 query (median) | same as numpy |",
        "|---|---|---|---|---|",
    ]
    for name, best, median, exact in rows:
        lines.append("| %s | %.2f | %.2f | %.2fx | %s |" % (name, best, median, median / rows[0][2], exact))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(HERE, "groups-latest.md"), "w") as f:
        f.write(provenance.line(FLATVEC) + "\n\n" + text)
    print(text)


if __name__ == "__main__":
    main()
