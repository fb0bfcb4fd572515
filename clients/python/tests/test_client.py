"""The blocking client against a real `flatvec serve`."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import flatvec
from flatvec import Client


def reference(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list:
    scores = vectors @ query
    order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))
    return [int(ids[i]) for i in order[:k]]


def quantized(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    # Multiples of 1/8: every dot product is exact in float32, so ties and order are exact too.
    return (rng.integers(-8, 9, size=(n, d)) / 8).astype(np.float32)


def test_every_operation(server) -> None:
    rng = np.random.default_rng(1)
    with Client(server.address) as c:
        assert c.ping(b"abc") == b"abc"
        assert c.server_info.role == 2
        c.create_collection("p", 8)
        c.create_collection("cos", 3, metric="cosine")
        vectors = quantized(rng, 300, 8)
        ids = np.arange(1000, 1300, dtype=np.int64)
        labels = ids % 7
        payloads = [{"image": "%d.jpg" % i} if i % 3 else None for i in ids]
        assert c.add("p", ids, vectors, labels=labels, payloads=payloads) == (300, 0)
        assert c.add("p", [1000], vectors[:1], labels=[5], payloads=["plain text"]) == (0, 1)
        infos = {i.name: i for i in c.list_collections()}
        assert infos["p"].count == 300 and infos["p"].dimension == 8 and infos["cos"].metric == "cosine"

        queries = quantized(rng, 20, 8)
        result = c.search("p", queries, k=5)
        assert result.ids.shape == (20, 5) and result.scores.dtype == np.float32
        for q in range(20):
            assert result.ids[q].tolist() == reference(vectors, ids, queries[q], 5)
        one = c.search("p", queries[0], k=400, with_payloads=True, with_vectors=True)
        assert one.ids.shape == (1, 400) and one.ids[0, 300:].tolist() == [-1] * 100
        assert np.isneginf(one.scores[0, 300:]).all()
        hit = next(h for h in one.hits[0] if h.id == 1001)
        assert flatvec.decode_payload(hit.payload) == {"image": "1001.jpg"}
        assert hit.vector.tolist() == vectors[1].tolist()

        filtered = c.search("p", queries[:3], k=10, labels=[2, 3], min_score=0.0, group_by_label=True)
        for row in filtered.hits:
            assert all(h.label in (2, 3) and h.score >= 0 for h in row)
            assert len({h.label for h in row}) == len(row)

        rows = c.get("p", [1000, 1001])
        assert [r.id for r in rows] == [1000, 1001] and rows[0].payload == b"plain text" and rows[0].label == 5
        assert c.get("p", [1001], with_vectors=False)[0].vector is None
        assert c.remove("p", [1001, 1002]) == 2
        assert c.list_collections()[1].count == 298
        stats = c.stats()
        assert {s.name for s in stats.collections} == {"p", "cos"} and stats.open_connections >= 1
        # Revision 4's storage figures: nothing compacted yet, so nothing mapped or in segments.
        assert all(s.mapped_bytes == 0 and s.disk_bytes == 0 and s.memory_bytes > 0 for s in stats.collections)
        with pytest.raises(flatvec.InvalidArgument):
            c.rebuild()  # the local store has no external copy
        c.drop_collection("cos")
        assert [i.name for i in c.list_collections()] == ["p"]


def test_every_error_code_a_request_can_provoke(server) -> None:
    with Client(server.address) as c:
        c.create_collection("e", 2, metric="cosine")
        cases = [
            (flatvec.UnknownCollection, lambda: c.search("nope", [1, 0])),
            (flatvec.CollectionExists, lambda: c.create_collection("e", 2)),
            (flatvec.DimensionMismatch, lambda: c.search("e", [1, 0, 0])),
            (flatvec.InvalidVector, lambda: c.add("e", [1], [[0, 0]])),
            (flatvec.UnknownID, lambda: c.remove("e", [42])),
            (flatvec.LimitExceeded, lambda: c.add("e", [1], [[1, 0]], payloads=["x" * 70_000])),
            (flatvec.InvalidArgument, lambda: c.create_collection("bad name", 2)),
            (flatvec.DuplicateID, lambda: c.add("e", [3, 3], [[1, 0], [0, 1]])),
        ]
        for error, call in cases:
            with pytest.raises(error) as raised:
                call()
            assert raised.value.code == error.code and raised.value.message
        # Checked before sending: NaN, shapes, k.
        with pytest.raises(flatvec.InvalidVector, match="row 1"):
            c.add("e", [1, 2], [[1, 0], [float("nan"), 0]])
        with pytest.raises(flatvec.InvalidArgument, match="3 ids for 2 vectors"):
            c.add("e", [1, 2, 3], [[1, 0], [0, 1]])
        with pytest.raises(flatvec.InvalidArgument, match="k must be"):
            c.search("e", [1, 0], k=0)
        assert c.ping(b"still fine") == b"still fine"
        assert flatvec.error_for(999, "x").__class__ is flatvec.InternalError


def test_tokens_and_roles(secured) -> None:
    with pytest.raises(flatvec.Unauthenticated):
        Client(secured.address, token="wrong")
    with Client(secured.address, token="admin-token") as admin:
        admin.create_collection("t", 2)
        admin.add("t", [1], [[1, 0]])
    with Client(secured.address, token="reader-token") as reader:
        assert reader.search("t", [1, 0], k=1).ids.tolist() == [[1]]
        with pytest.raises(flatvec.Forbidden):
            reader.add("t", [2], [[0, 1]])


def test_token_from_the_environment(secured, monkeypatch) -> None:
    monkeypatch.setenv("FLATVEC_TOKEN", "reader-token")
    with Client(secured.address) as c:
        assert c.server_info.role == 1


def test_threads_share_one_client(server) -> None:
    rng = np.random.default_rng(2)
    vectors = quantized(rng, 500, 16)
    ids = np.arange(500, dtype=np.int64)
    with Client(server.address) as c:
        c.create_collection("th", 16)
        c.add("th", ids, vectors)
        queries = quantized(rng, 64, 16)
        failures = []

        def work(t: int) -> None:
            for q in range(t, 64, 8):
                got = c.search("th", queries[q], k=3).ids[0].tolist()
                if got != reference(vectors, ids, queries[q], 3):
                    failures.append(q)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []


def test_a_server_restart_reconnects_reads_and_fails_writes(server) -> None:
    with Client(server.address) as c:
        c.create_collection("r", 2)
        c.add("r", [1], [[1, 0]])
        server.stop()
        server.start()  # same --data: the collection is back
        # The old connection is gone: a read reconnects and is sent again, once.
        assert c.search("r", [1, 0], k=1).ids.tolist() == [[1]]
        server.stop()
        server.start()
        with pytest.raises(flatvec.ConnectionLost):
            c.add("r", [2], [[0, 1]])
        # The next call opens a new connection.
        assert c.add("r", [2], [[0, 1]]) == (1, 0)


def test_rebuild_from_postgresql(tmp_path) -> None:
    """REBUILD through a server on the PostgreSQL store (scripts/test.sh provides one; without it this fails)."""
    import os
    import uuid

    from .conftest import Server

    url = os.environ.get("FLATVEC_TEST_POSTGRES_URL")
    assert url, "FLATVEC_TEST_POSTGRES_URL is not set: run the tests with scripts/test.sh"
    name = "py_%s" % uuid.uuid4().hex[:12]
    server = Server(str(tmp_path), ["--postgres", url])
    try:
        with Client(server.address) as c:
            c.create_collection(name, 3)
            c.add(name, [1, 2], [[1, 0, 0], [0, 1, 0]])
            rebuilt = c.rebuild(name)
            assert [(r.name, r.count, r.skipped_rows) for r in rebuilt] == [(name, 2, 0)]
            c.drop_collection(name)
    finally:
        server.stop()


def test_outcome_unknown_is_its_own_code_and_an_unavailable() -> None:
    error = flatvec.error_for(18, "the connection to PostgreSQL was lost during COMMIT")
    assert isinstance(error, flatvec.OutcomeUnknown) and isinstance(error, flatvec.Unavailable)
    assert error.code == 18 and error.name == "outcome_unknown"
    assert flatvec.outcome_unknown(error)
    # A plain unavailable means nothing was changed, whatever its message says.
    assert not flatvec.outcome_unknown(flatvec.error_for(11, "outcome unknown: an old server's prefix"))
    assert flatvec.outcome_unknown(flatvec.ConnectionLost("closed before the reply"))
