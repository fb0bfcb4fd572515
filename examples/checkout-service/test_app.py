"""The checkout service driven over HTTP (httpx, through FastAPI's TestClient) against a real FlatVec."""
from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


@pytest.fixture
def flatvec_server():
    binary = next(p for p in (os.path.join(ROOT, ".build", m, "flatvec") for m in ("debug", "release")) if os.path.exists(p))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # In memory, with the sample catalogue: the collection `products`, 512-d, JSON payloads.
    process = subprocess.Popen([binary, "serve", "--port", str(port), "--log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield "127.0.0.1:%d" % port
    process.terminate()
    process.wait(timeout=30)


def test_identify_and_add_products_over_http(flatvec_server, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    import flatvec

    monkeypatch.setenv("FLATVEC_ADDRESS", flatvec_server)
    monkeypatch.setenv("CHECKOUT_ADMIN_KEY", "k3y")
    sys.path.insert(0, HERE)
    app_module = importlib.reload(importlib.import_module("app"))
    queries = np.load(os.path.join(ROOT, "data", "queries.npy"))
    with TestClient(app_module.app) as http, flatvec.Client(flatvec_server) as direct:
        assert http.get("/healthz").json() == {"status": "ok"}
        reply = http.post("/checkout/identify", json={"embedding": queries[0].tolist(), "k": 3})
        assert reply.status_code == 200
        hits = reply.json()["hits"]
        expected = direct.search("products", queries[0], k=3, filter="visible")
        assert [h["id"] for h in hits] == expected.ids[0].tolist()
        # A lane restricted to one category gets only that category, k of them.
        category = direct.get("products", [hits[0]["id"]], with_vectors=False)[0].attributes["category"]
        mugs = http.post("/checkout/identify", json={"embedding": queries[0].tolist(), "k": 5, "category": category}).json()["hits"]
        assert len(mugs) == 5
        assert [h["id"] for h in mugs] == direct.search("products", queries[0], k=5, filter="visible and category = " + flatvec.quote(category)).ids[0].tolist()
        assert isinstance(hits[0]["payload"], dict)  # JSON payloads come back as objects

        # An admin adds a product live; the next frame of it is identified.
        embedding = np.zeros(512, dtype=np.float32)
        embedding[7] = 1.0
        new = {"product": 9_999, "images": [{"id": 99_990, "embedding": embedding.tolist(), "payload": {"image": "new.jpg"}}]}
        assert http.post("/admin/products", json=new).status_code == 403
        added = http.post("/admin/products", json=new, headers={"X-Admin-Key": "k3y"})
        assert added.json() == {"inserted": 1, "replaced": 0}
        found = http.post("/checkout/identify", json={"embedding": (embedding * 3).tolist(), "k": 1}).json()["hits"][0]
        assert found["label"] == 9_999 and found["payload"] == {"image": "new.jpg"}

        # A product added hidden is not matched until it is published, and k is still filled.
        hidden = np.zeros(512, dtype=np.float32)
        hidden[11] = 1.0
        draft = {"product": 8_888, "category": "drafts", "visible": False,
                 "images": [{"id": 88_880, "embedding": hidden.tolist()}]}
        assert http.post("/admin/products", json=draft, headers={"X-Admin-Key": "k3y"}).status_code == 200
        before = http.post("/checkout/identify", json={"embedding": (hidden * 3).tolist(), "k": 2}).json()["hits"]
        assert len(before) == 2 and all(h["label"] != 8_888 for h in before)
        published = http.post("/admin/visibility", json={"images": [88_880], "visible": True}, headers={"X-Admin-Key": "k3y"})
        assert published.json() == {"updated": 1}
        after = http.post("/checkout/identify", json={"embedding": (hidden * 3).tolist(), "k": 2}).json()["hits"]
        assert after[0]["label"] == 8_888
        missing = http.post("/admin/visibility", json={"images": [123_456_789], "visible": True}, headers={"X-Admin-Key": "k3y"})
        assert missing.status_code == 404

        # FlatVec's errors become HTTP errors with the reason.
        wrong = http.post("/checkout/identify", json={"embedding": [1.0, 2.0], "k": 1})
        assert wrong.status_code == 422 and "dimension" in wrong.json()["detail"]


def test_burst_identify_and_inspection_over_http(flatvec_server, monkeypatch) -> None:
    from fastapi.testclient import TestClient

    import flatvec

    monkeypatch.setenv("FLATVEC_ADDRESS", flatvec_server)
    sys.path.insert(0, HERE)
    app_module = importlib.reload(importlib.import_module("app"))
    queries = np.load(os.path.join(ROOT, "data", "queries.npy"))
    rng = np.random.default_rng(5)
    with TestClient(app_module.app) as http, flatvec.Client(flatvec_server) as direct:
        stored = direct.get("products", [int(direct.search("products", queries[0], k=1).ids[0][0])])[0]
        frames = np.asarray(stored.vector, dtype=np.float32) + 0.02 * rng.standard_normal((4, 512)).astype(np.float32)
        for aggregate in ("max", "mean"):
            reply = http.post("/checkout/identify-burst", json={"embeddings": frames.tolist(), "k": 3, "aggregate": aggregate})
            assert reply.status_code == 200, reply.text
            products = reply.json()["products"]
            expected = direct.search("products", frames, k=3, group_by_label=True, filter="visible", vectors_per_query=4,
                                     aggregate=aggregate)
            assert [p["label"] for p in products] == expected.labels[0].tolist()
            assert products[0]["label"] == stored.label
        assert http.post("/checkout/identify-burst", json={"embeddings": frames.tolist(), "aggregate": "median"}).status_code == 422
        # Inspection: the products with their closest photos, and the stored photo itself as a duplicate.
        reply = http.post("/inspection/similar", json={"embeddings": frames[:2].tolist(), "k": 2, "photos_per_product": 2,
                                                        "duplicate_above": 0.9})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["products"][0]["product"] == stored.label and 1 <= len(body["products"][0]["photos"]) <= 2
        assert len(body["products"]) == 2
        assert stored.id in [d["id"] for d in body["duplicates"]] and not body["duplicates_truncated"]
        assert all(d["score"] >= 0.9 for d in body["duplicates"])
