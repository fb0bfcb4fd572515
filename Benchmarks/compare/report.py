#!/usr/bin/env python3
"""Writes Benchmarks/README.md from the harnesses' latest reports.

Each harness writes its `*-latest.md` here, starting with the line `provenance.line()` gives (date,
commit, CPU, BLAS and int8 kernels). This script puts them under one heading each, after the
instructions, so that every figure on the page names its machine, date and commit and nothing else
is said about them: the history is git's.

    python3 Benchmarks/compare/report.py           # rewrite Benchmarks/README.md
    python3 Benchmarks/compare/report.py --check   # exit 1 if it is not what this script writes
"""
from __future__ import annotations

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
BENCHMARKS = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import provenance  # noqa: E402

# (heading, report file relative to Benchmarks/, the command that measures it, or None if none is kept)
WORKLOADS = [
    ("FlatVec against FAISS and numpy", "compare/results-latest.md", "python3 Benchmarks/compare/run.py"),
    ("Many checkout lanes at once", "compare/checkout-latest.md", "python3 Benchmarks/compare/checkout.py"),
    ("int8 first pass, still exact", "compare/int8-latest.md", "python3 Benchmarks/compare/int8.py"),
    ("Range search", "compare/range-latest.md", "python3 Benchmarks/compare/range.py"),
    ("Near-duplicate sweep", "compare/duplicates-latest.md", "python3 Benchmarks/compare/duplicates.py"),
    ("Query groups", "compare/groups-latest.md", "python3 Benchmarks/compare/groups.py"),
    ("Filtered search, int8 scan", "compare/filters-latest.md", "python3 Benchmarks/compare/filters.py"),
    ("Filtered search, float32 scan", "compare/filters-float32-latest.md", "python3 Benchmarks/compare/filters.py --scan float32"),
    ("Search plans", "compare/search-plans-latest.md", ".build/release/flatvec-search-bench"),
    ("Kernel plan", "compare/kernel-plan-latest.md", None),
    ("Storage: memory, load, compaction, restarts", "compare/storage-latest.md", "python3 Benchmarks/compare/storage.py"),
    ("Storage at 10M", "compare/storage-10m-latest.md",
     "python3 Benchmarks/compare/storage.py --n 10000000 --collections 10 --out storage-10m-latest.md"),
    ("Checkout lanes while an admin adds products", "compare/lanes-under-writes-latest.md",
     "python3 Benchmarks/compare/lanes_under_writes.py [--flatvec-before OLD --before-label 'before (COMMIT)']"),
    ("One lane and 32 at 1M, before and after segments", "compare/lanes-1m-latest.md",
     "python3 Benchmarks/compare/lanes_under_writes.py --n 1000000 --lanes 1,32 --flatvec-before OLD --before-label 'before (COMMIT)' --out lanes-1m-latest.md"),
    ("Followers", "compare/followers-latest.md", "python3 Benchmarks/compare/followers.py"),
    ("TLS", "compare/tls-latest.md", "python3 Benchmarks/compare/tls.py"),
    ("Server search throughput (package-benchmark)", "server-suite-latest.md", "swift package benchmark --target ServerBenchmarks"),
    ("In process (package-benchmark)", "suites-latest.md", "swift package benchmark"),
]

HEADER = """# FlatVec benchmarks

<!-- Written by Benchmarks/compare/report.py from the harnesses' *-latest.md files: edit those
     (by rerunning the harness) or the script, not this page. -->

Two kinds of measurement, both rerunnable on your machine:

1. **package-benchmark suites** (`swift package benchmark`, from this folder): the index in process,
   the TCP server, the durable stores. Latency percentiles per operation.
2. **The comparison harness** (`python3 Benchmarks/compare/run.py` and its siblings, from the
   repository root): FlatVec against FAISS `IndexFlatIP`, numpy, pgvector and the seeds' Python
   design on identical data, checking that all return the same neighbours. Each creates its own
   virtual environment with the pinned `requirements.txt` and builds what it needs.

Every section below is one harness's latest report. Its first line says when it was recorded, at
which commit, on which CPU with which BLAS and int8 kernels: compare figures only within one
section. After a harness run, `python3 Benchmarks/compare/report.py` rewrites this page.

"""


def split_provenance(text: str, path: str) -> tuple[str, str]:
    """The report's provenance line and its body."""
    lines = text.strip("\n").split("\n")
    for i, line in enumerate(lines[:6]):
        if line.startswith(provenance.PREFIX):
            return line, "\n".join(lines[:i] + lines[i + 1:]).strip("\n")
    raise SystemExit(f"report.py: {path} does not start with a '{provenance.PREFIX}...' line (provenance.line())")


def demote(body: str) -> str:
    """Headings inside a report go below the section's own (## -> ###); its title is dropped."""
    out = []
    for line in body.split("\n"):
        m = re.match(r"^(#+) (.*)$", line)
        if m and len(m.group(1)) == 1:
            continue
        if m:
            line = "#" * min(len(m.group(1)) + 1, 6) + " " + m.group(2)
        out.append(line)
    return "\n".join(out).strip("\n")


def render() -> str:
    with open(os.path.join(HERE, "howto.md")) as f:
        howto = f.read().strip("\n")
    parts = [HEADER + howto + "\n"]
    for heading, relative, command in WORKLOADS:
        path = os.path.join(BENCHMARKS, relative)
        with open(path) as f:
            line, body = split_provenance(f.read(), relative)
        how = f"Command: `{command}`; report" if command else "Measured by hand, no harness kept; report"
        parts.append(f"## {heading}\n\n*{line}* {how}: `Benchmarks/{relative}`.\n\n{demote(body)}\n")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if Benchmarks/README.md is not what this script writes")
    args = parser.parse_args()
    text = render()
    target = os.path.join(BENCHMARKS, "README.md")
    if args.check:
        with open(target) as f:
            if f.read() != text:
                raise SystemExit("report.py: Benchmarks/README.md differs from the reports; run python3 Benchmarks/compare/report.py")
        return
    with open(target, "w") as f:
        f.write(text)
    print("wrote", target)


if __name__ == "__main__":
    main()
