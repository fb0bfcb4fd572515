"""A real `flatvec serve` per test module, started from the binary the Swift build made."""
from __future__ import annotations

import os
import socket
import subprocess
import time
from typing import Iterator, List

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def flatvec_binary() -> str:
    for mode in ("debug", "release"):
        path = os.path.join(ROOT, ".build", mode, "flatvec")
        if os.path.exists(path):
            return path
    raise RuntimeError("no flatvec binary: run `swift build` first (scripts/test.sh does)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, tmp: str, extra: List[str]) -> None:
        self.port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.arguments = [flatvec_binary(), "serve", "--port", str(self.port), "--sample-data", "none", "--log-level", "error"] + extra
        self.process: subprocess.Popen = None  # type: ignore[assignment]
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(self.arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("flatvec serve did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    s = Server(str(tmp_path), ["--data", str(tmp_path / "data")])
    yield s
    s.stop()


@pytest.fixture
def secured(tmp_path) -> Iterator[Server]:
    (tmp_path / "admin").write_text("admin-token\n")
    (tmp_path / "reader").write_text("reader-token\n")
    s = Server(str(tmp_path), ["--admin-token-file", str(tmp_path / "admin"), "--reader-token-file", str(tmp_path / "reader")])
    yield s
    s.stop()
