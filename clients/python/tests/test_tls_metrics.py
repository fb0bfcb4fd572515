"""TLS (server certificate, mutual TLS) and the Prometheus endpoint, against a real `flatvec serve`."""
from __future__ import annotations

import asyncio
import os
import ssl
import subprocess
import urllib.error
import urllib.request
from typing import Dict, Iterator, Tuple

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flatvec import AsyncClient, Client, ConnectionLost, Forbidden

from .conftest import Server, free_port


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Dict[str, str]:
    d = str(tmp_path_factory.mktemp("certs"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=test-ca", "-keyout", d + "/ca.key", "-out", d + "/ca.pem")
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=other-ca", "-keyout", d + "/other.key", "-out", d + "/other.pem")
    for name, ext in [("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n"),
                      ("client", "extendedKeyUsage=clientAuth\n")]:
        with open("%s/%s.ext" % (d, name), "w") as f:
            f.write(ext)
        openssl("req", *ec, "-subj", "/CN=" + name, "-keyout", "%s/%s.key" % (d, name), "-out", "%s/%s.csr" % (d, name))
        openssl("x509", "-req", "-in", "%s/%s.csr" % (d, name), "-CA", d + "/ca.pem", "-CAkey", d + "/ca.key", "-CAcreateserial",
                "-days", "2", "-extfile", "%s/%s.ext" % (d, name), "-out", "%s/%s.pem" % (d, name))
    return {k: "%s/%s" % (d, v) for k, v in [("ca", "ca.pem"), ("other", "other.pem"), ("cert", "server.pem"), ("key", "server.key"),
                                              ("client_cert", "client.pem"), ("client_key", "client.key"), ("dir", "")]}


@pytest.fixture
def tls_server(certs, tmp_path) -> Iterator[Tuple[Server, int]]:
    with open(tmp_path / "admin", "w") as f:
        f.write("admin-secret\n")
    with open(tmp_path / "reader", "w") as f:
        f.write("reader-secret\n")
    metrics_port = free_port()
    s = Server(str(tmp_path), ["--tls-cert-file", certs["cert"], "--tls-key-file", certs["key"],
                               "--tls-client-ca-file", certs["ca"], "--metrics-port", str(metrics_port),
                               "--admin-token-file", str(tmp_path / "admin"), "--reader-token-file", str(tmp_path / "reader")])
    yield s, metrics_port
    s.stop()


def context(certs, client_cert: bool = True, ca: str = "ca") -> ssl.SSLContext:
    c = ssl.create_default_context(cafile=certs[ca])
    if client_cert:
        c.load_cert_chain(certs["client_cert"], certs["client_key"])
    return c


def test_tls_client_mutual_tls_and_tokens(certs, tls_server) -> None:
    server, _ = tls_server
    with Client(server.address, token="admin-secret", ssl=context(certs)) as c:
        c.create_collection("t", 4, attributes={"visible": "bool"})
        ids = np.arange(10)
        c.add("t", ids, np.eye(10, 4, dtype=np.float32) + 0.1, attributes=[{"visible": bool(i % 2)} for i in ids])
        r = c.search("t", np.array([[1, 0, 0, 0]], dtype=np.float32), k=3, filter="visible")
        assert r.ids[0].tolist()[0] == 1
    with Client(server.address, token="reader-secret", ssl=context(certs)) as c:
        assert c.search("t", np.ones((1, 4), dtype=np.float32), k=2).ids.shape == (1, 2)
        with pytest.raises(Forbidden):
            c.add("t", np.array([99]), np.ones((1, 4), dtype=np.float32))
    # An untrusted server certificate, a missing or foreign client certificate, and plain TCP all fail.
    with pytest.raises(ConnectionLost, match="TLS handshake"):
        Client(server.address, token="admin-secret", ssl=context(certs, ca="other"))
    with pytest.raises(ConnectionLost):
        with Client(server.address, token="admin-secret", ssl=context(certs, client_cert=False)) as c:
            c.ping()
    with pytest.raises(ConnectionLost):
        Client(server.address, token="admin-secret", timeout=5)

    async def run_async() -> int:
        async with AsyncClient(server.address, token="reader-secret", ssl=context(certs)) as a:
            result = await a.search("t", np.ones((1, 4), dtype=np.float32), k=4)
            return len(result.ids[0])

    assert asyncio.run(run_async()) == 4


def test_metrics_parse_as_prometheus_text_and_count_requests(certs, tls_server) -> None:
    server, metrics_port = tls_server
    with Client(server.address, token="admin-secret", ssl=context(certs)) as c:
        c.create_collection("m", 4)
        for i in range(3):
            c.add("m", np.array([i]), np.ones((1, 4), dtype=np.float32))
        for _ in range(5):
            c.search("m", np.ones((1, 4), dtype=np.float32), k=1)
        with pytest.raises(Exception):
            c.search("missing", np.ones((1, 4), dtype=np.float32), k=1)
    text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=10).read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    assert samples[("flatvec_requests_total", (("op", "search"),))] == 6
    assert samples[("flatvec_requests_total", (("op", "add"),))] == 3
    assert samples[("flatvec_request_errors_total", (("code", "unknown_collection"), ("op", "search")))] == 1
    assert samples[("flatvec_request_duration_seconds_count", (("op", "search"),))] == 6
    assert samples[("flatvec_collection_vectors", (("collection", "m"),))] == 3
    assert samples[("flatvec_store_commit_duration_seconds_count", (("op", "add"),))] == 3
    assert samples[("flatvec_connections_total", ())] >= 1
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % metrics_port, timeout=10)
    assert missing.value.code == 404
