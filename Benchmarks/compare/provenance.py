"""The line every harness report starts with: when, on which commit, on which machine and kernels.

Benchmarks/compare/report.py reads it back to build Benchmarks/README.md.
"""
from __future__ import annotations

import datetime
import os
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PREFIX = "Recorded "


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True, check=False).stdout.strip()


def _is_report(path: str) -> bool:
    """Whether `path` is a harness's output (a report, the Benchmarks README, a plot), not code."""
    return path.startswith("Benchmarks/") and (path.endswith("-latest.md") or path.endswith(".png") or path == "Benchmarks/README.md")


def commit() -> str:
    """The commit under test, with `+changes` if the working tree's code differs from it (reports
    other harnesses rewrote meanwhile do not count)."""
    head = _git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line.split(maxsplit=1)[-1] for line in _git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return head + ("+changes" if any(not _is_report(path) for path in changed) else "")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), or "unknown CPU"."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def machine(flatvec: str) -> str:
    """CPU model and cores, and the BLAS and int8 kernels `flatvec info` reports."""
    cpu = cpu_model()
    info: dict[str, str] = {}
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        out = subprocess.run([flatvec, "info"], capture_output=True, text=True, env=env, check=False).stdout
        for line in out.splitlines():
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    except OSError:
        pass
    blas = info.get("blas kernel", "unknown").split(" (")[0]
    int8 = info.get("int8 kernel", "unknown").split(" (")[0]
    return f"{cpu}, {os.cpu_count()} cores; BLAS kernel {blas}; int8 kernel {int8}"


def line(flatvec: str) -> str:
    """`Recorded 2026-12-06 at commit abc1234 on AMD EPYC ..., 2 cores; BLAS kernel ...; int8 kernel ....`"""
    today = datetime.date.today().isoformat()
    return f"{PREFIX}{today} at commit {commit()} on {machine(flatvec)}."
