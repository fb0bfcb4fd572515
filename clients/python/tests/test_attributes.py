"""Typed attributes, exact filters, partial updates, search by stored id, range search and the
duplicate sweep, against a real server."""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional

import numpy as np
import pytest

import flatvec
from flatvec import AsyncClient, Client

CATEGORIES = ["shoes", "boots", "hats", 'it"s']


def catalogue(c: Client, rng: np.random.Generator, n: int = 1500) -> tuple:
    c.create_collection("shop", 8, attributes={"visible": "bool", "stock": "int64", "price": "float64", "category": "keyword"})
    vectors = (rng.integers(-8, 9, size=(n, 8)) / 8).astype(np.float32)
    ids = np.arange(n, dtype=np.int64)
    attributes = []
    for i in range(n):
        row: dict = {}
        if rng.integers(6):
            row["visible"] = bool(rng.integers(2))
        if rng.integers(6):
            row["stock"] = int(rng.integers(-3, 20))
        if rng.integers(6):
            row["price"] = float(rng.integers(0, 400)) / 4
        if rng.integers(6):
            row["category"] = CATEGORIES[int(rng.integers(len(CATEGORIES)))]
        attributes.append(row)
    assert c.add("shop", ids, vectors, labels=ids % 5, attributes=attributes) == (n, 0)
    return ids, vectors, attributes


def top(ids: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int, keep: Callable[[int], bool]) -> list:
    scores = vectors @ query
    order = sorted((i for i in range(len(ids)) if keep(i)), key=lambda i: (-scores[i], ids[i]))
    return [int(ids[i]) for i in order[:k]]


def test_filtered_searches_equal_a_reference_with_sql_nulls(server) -> None:
    rng = np.random.default_rng(3)
    with Client(server.address) as c:
        ids, vectors, attrs = catalogue(c, rng)

        def get(i: int, name: str) -> Any:
            return attrs[i].get(name)

        def not3(x: Optional[bool]) -> Optional[bool]:
            return None if x is None else not x

        # (filter text, reference: True only where SQL's WHERE would keep the row)
        cases = [
            ('visible and category = "shoes"', lambda i: get(i, "visible") is True and get(i, "category") == "shoes"),
            ("price < 20 or stock >= 15", lambda i: (get(i, "price") is not None and get(i, "price") < 20)
             or (get(i, "stock") is not None and get(i, "stock") >= 15)),
            ("not visible", lambda i: not3(get(i, "visible")) is True),
            ("category != " + flatvec.quote('it"s'), lambda i: get(i, "category") is not None and get(i, "category") != 'it"s'),
            ("stock is null and label in (1, 2)", lambda i: get(i, "stock") is None and ids[i] % 5 in (1, 2)),
            ("id in (3, 5, 8, 99999)", lambda i: ids[i] in (3, 5, 8)),
            ("price >= 99.75", lambda i: get(i, "price") is not None and get(i, "price") >= 99.75),
        ]
        queries = (rng.integers(-8, 9, size=(len(cases), 8)) / 8).astype(np.float32)
        for k in (1, 10, 200):
            # One filter per query in one request.
            result = c.search("shop", queries, k=k, filters=[text for text, _ in cases])
            for q, (text, keep) in enumerate(cases):
                expected = top(ids, vectors, queries[q], k, keep)
                assert [int(x) for x in result.ids[q] if x >= 0] == expected, text
            # One for all, with attributes in the hits.
            shared = c.search("shop", queries[:2], k=k, filter=cases[0][0], with_attributes=True)
            for q in range(2):
                expected = top(ids, vectors, queries[q], k, cases[0][1])
                assert [h.id for h in shared.hits[q]] == expected
                assert all(h.attributes == attrs[h.id] for h in shared.hits[q])
        # A tree instead of text.
        tree = ("and", [("=", ("attribute", "visible"), True), ("in", ("attribute", "category"), ["shoes", "boots"])])
        by_tree = c.search("shop", queries[0], k=20, filter=tree)
        keep = lambda i: get(i, "visible") is True and get(i, "category") in ("shoes", "boots")  # noqa: E731
        assert [int(x) for x in by_tree.ids[0] if x >= 0] == top(ids, vectors, queries[0], 20, keep)


def test_updates_search_by_id_and_attribute_changes(server) -> None:
    rng = np.random.default_rng(4)
    with Client(server.address) as c:
        ids, vectors, attrs = catalogue(c, rng, n=300)
        assert c.update("shop", [{"id": 1, "label": 9, "payload": {"sku": "A1"}, "set": {"visible": True, "price": 3},
                                  "clear": ["category"]},
                                 {"id": 2, "payload": None}]) == 2
        row = c.get("shop", [1], with_vectors=False)[0]
        assert row.label == 9 and flatvec.decode_payload(row.payload) == {"sku": "A1"}
        expected = dict(attrs[1], visible=True, price=3.0)
        expected.pop("category", None)
        assert row.attributes == expected
        assert c.set_attributes("shop", [5, 6], {"category": "socks"}) == 2
        socks = c.search("shop", vectors[0], k=10, filter='category = "socks"')
        assert sorted(int(x) for x in socks.ids[0] if x >= 0) == [5, 6]
        # More like this one, without itself.
        like = c.search_by_id("shop", [7, 8], k=5)
        for q, i in enumerate((7, 8)):
            assert 7 + q not in like.ids[q]
            assert [int(x) for x in like.ids[q]] == top(ids, vectors, vectors[i], 5, lambda j, i=i: j != i)
        described = c.describe_collection("shop")
        assert described.attributes == {"visible": "bool", "stock": "int64", "price": "float64", "category": "keyword"}
        assert described.count == 300 and described.dimension == 8 and described.metric == "ip"
        c.add_attribute("shop", "tier", "int64")
        c.set_attributes("shop", [3], {"tier": 2})
        assert c.get("shop", [3], with_vectors=False)[0].attributes["tier"] == 2
        c.drop_attribute("shop", "tier")
        with pytest.raises(flatvec.InvalidArgument, match='unknown attribute "tier"'):
            c.search("shop", vectors[0], filter="tier = 2")
        with pytest.raises(flatvec.InvalidArgument, match="offset"):
            c.search("shop", vectors[0], filter="visible and (")
        with pytest.raises(flatvec.InvalidArgument, match="stock is int64"):
            c.update("shop", [{"id": 1, "set": {"stock": "many"}}])
        with pytest.raises(flatvec.UnknownID):
            c.update("shop", [{"id": 1, "label": 1}, {"id": 123456, "label": 1}])
        with pytest.raises(flatvec.UnknownID):
            c.search_by_id("shop", [123456])
        assert c.get("shop", [1], with_vectors=False)[0].label == 9, "a refused update changed nothing"
        with pytest.raises(flatvec.InvalidArgument):
            c.add("shop", [1], vectors[:1], attributes=[{"stock": [1, 2]}])


def test_attributes_survive_a_restart(server) -> None:
    rng = np.random.default_rng(5)
    with Client(server.address) as c:
        catalogue(c, rng, n=100)
        c.update("shop", [{"id": 4, "set": {"category": "hats", "visible": False}}])
        before = c.get("shop", list(range(100)), with_vectors=False)
    server.stop()
    server.start()
    with Client(server.address) as c:
        assert c.get("shop", list(range(100)), with_vectors=False) == before


def test_the_specs_strict_readings_against_the_server(server) -> None:
    """PROTOCOL.md revision 2: what the spec calls invalid is refused, with the code it names."""
    with Client(server.address) as c:
        c.create_collection("strict", 2, attributes={"stock": "int64", "price": "float64", "visible": "bool"})
        c.add("strict", [1, 2], [[1, 0], [0, 1]], attributes=[{"stock": 3, "price": 2.5, "visible": True}, {}])
        refused = [
            ("stock == 3", "'==' at offset 6"),
            ('stock = "a\\qb"', "unknown escape"),
            ("stock = 100000000000000000000", "outside int64"),
            ("price < 9007199254740993", "no exact float64"),
            ("stock in ()", "expected a value"),
        ]
        for text, message in refused:
            with pytest.raises(flatvec.InvalidArgument, match=message.replace("(", "\\(").replace(")", "\\)")):
                c.search("strict", [1, 0], k=2, filter=text)
        # Names and words are case-insensitive, as PostgreSQL's unquoted identifiers.
        assert c.search("strict", [1, 0], k=2, filter="STOCK = 3 AND Visible").ids.tolist() == [[1, -1]]
        # An empty in list is refused by the client before sending, and by the server as a tree.
        with pytest.raises(ValueError, match="at least one value"):
            c.search("strict", [1, 0], k=2, filter=("in", "id", []))
        # Stored ids may repeat: each position is answered.
        result = c.search_by_id("strict", [1, 1], k=1, exclude_self=False)
        assert result.ids.tolist() == [[1], [1]]
        # Clearing one attribute twice in one update is refused; an empty update is fine.
        with pytest.raises(flatvec.InvalidArgument, match="twice"):
            c.update("strict", [{"id": 1, "clear": ["stock", "stock"]}])
        assert c.update("strict", []) == 0
        assert c.get("strict", [1], with_attributes=True)[0].attributes == {"stock": 3, "price": 2.5, "visible": True}


def test_range_search_returns_every_hit_above_the_threshold(server) -> None:
    """k="all" with min_score: every hit at or above it, best first, the server's limit marked."""
    with Client(server.address) as c:
        c.create_collection("range", 8)
        rng = np.random.default_rng(4)
        vectors = (rng.integers(-8, 9, size=(500, 8)) / 8).astype(np.float32)
        ids = np.arange(500, dtype=np.int64)
        c.add("range", ids, vectors, labels=ids % 3)
        queries = (rng.integers(-8, 9, size=(3, 8)) / 8).astype(np.float32)
        scores = queries @ vectors.T
        threshold = float(np.sort(scores[0])[::-1][25])  # ties at it are included
        result = c.search("range", queries, k="all", min_score=threshold, labels=[0, 1])
        assert result.truncated is not None and result.truncated.tolist() == [False, False, False]
        for q in range(3):
            keep = [i for i in range(500) if scores[q, i] >= threshold and i % 3 in (0, 1)]
            expected = sorted(keep, key=lambda i: (-scores[q, i], i))
            got = [int(x) for x in result.ids[q] if x >= 0]
            assert got == expected
        assert result.ids.shape[1] == max(len(h) for h in result.hits)
        # A top-k search has no truncation marks; k="all" needs a threshold.
        assert c.search("range", queries[0], k=3).truncated is None
        with pytest.raises(flatvec.InvalidArgument, match="min_score"):
            c.search("range", queries[0], k="all")


def test_duplicate_sweep_lists_every_pair_once_and_can_stop(server) -> None:
    """Client.duplicates pages against numpy over every pair, a filter on both sides, stopping early."""
    with Client(server.address) as c:
        c.create_collection("dups", 8, attributes=[("visible", "bool")])
        rng = np.random.default_rng(6)
        vectors = (rng.integers(-8, 9, size=(400, 8)) / 8).astype(np.float32)
        vectors[300:] = vectors[:100]  # exact copies: ties at any threshold they reach
        ids = np.arange(400, dtype=np.int64) * 3
        visible = [bool(i % 4) for i in range(400)]
        c.add("dups", ids, vectors, attributes=[{"visible": v} for v in visible])
        scores = vectors @ vectors.T
        threshold = float(np.sort(scores[np.triu_indices(400, 1)])[::-1][150])

        def expected(keep) -> set:
            i, j = np.nonzero(np.triu(scores >= threshold, 1))
            return {(int(ids[a]), int(ids[b])) for a, b in zip(i, j) if keep(a) and keep(b)}

        pages = list(c.duplicates("dups", threshold, page_size=10))
        pairs = [(int(a), int(b)) for p in pages for a, b in zip(p.pairs["a"], p.pairs["b"])]
        assert len(pairs) == len(set(pairs)) and set(pairs) == expected(lambda i: True)
        assert len(pages) > 10 and all(len(p.pairs) <= 10 for p in pages)
        assert pages[-1].finished and pages[-1].rows_done == pages[-1].rows_total == 400
        whole = c.duplicate_pairs("dups", threshold, filter="visible")
        assert {(int(a), int(b)) for a, b in zip(whole.pairs["a"], whole.pairs["b"])} == expected(lambda i: visible[i])
        assert whole.truncated_rows == 0
        # Leaving the loop early ends the sweep on the server (and the connection goes on).
        for page in c.duplicates("dups", -100.0, page_size=1):
            break
        with pytest.raises(flatvec.InvalidArgument, match="finite"):
            c.duplicate_pairs("dups", float("nan"))

    async def sweep() -> set:
        async with AsyncClient(server.address) as a:
            found = set()
            async for page in a.duplicates("dups", threshold, page_size=25):
                found |= {(int(x), int(y)) for x, y in zip(page.pairs["a"], page.pairs["b"])}
            return found

    assert asyncio.run(sweep()) == expected(lambda i: True)


def test_query_groups_and_group_size_rank_as_numpy(server) -> None:
    """vectors_per_query with max and mean, and group_size, against numpy over every vector of each group."""
    with Client(server.address) as c:
        c.create_collection("groups", 8)
        rng = np.random.default_rng(8)
        vectors = (rng.integers(-8, 9, size=(600, 8)) / 8).astype(np.float32)
        ids = np.arange(600, dtype=np.int64) + 1000
        labels = ids % 37
        c.add("groups", ids, vectors, labels=labels)
        queries = (rng.integers(-8, 9, size=(6, 8)) / 8).astype(np.float32)
        scores = queries @ vectors.T  # exact: multiples of 1/64
        for g, rows in enumerate((range(0, 3), range(3, 6))):
            s = scores[list(rows)]
            best = s.max(axis=0)
            result = c.search("groups", queries, k=4, vectors_per_query=3, aggregate="max")
            assert result.ids.shape == (2, 4)
            order = sorted(range(600), key=lambda i: (-best[i], ids[i]))[:4]
            assert result.ids[g].tolist() == [int(ids[i]) for i in order]
            # mean over the group's vectors of each vector's best within the label
            per_label = {int(l): [float(s[j][labels == l].max()) for j in range(3)] for l in np.unique(labels)}
            mean = {l: np.float32(np.float32(np.float32(v[0]) + np.float32(v[1])) + np.float32(v[2])) / np.float32(3)
                    for l, v in per_label.items()}
            result = c.search("groups", queries, k=5, group_by_label=True, query_groups=[3, 3], aggregate="mean")
            want = sorted(mean, key=lambda l: (-mean[l], min(ids[labels == l][s[:, labels == l].max(axis=0) == s[:, labels == l].max()])))[:5]
            assert result.labels[g].tolist() == want
            assert np.allclose(result.scores[g], [mean[l] for l in want])
        # group_size: up to 3 hits for each of the 2 best labels, a label's hits together.
        result = c.search("groups", queries[0], k=2, group_by_label=True, group_size=3)
        hits = result.hits[0]
        assert len(hits) == 6 and len({h.label for h in hits}) == 2
        for label in {h.label for h in hits}:
            members = [i for i in range(600) if labels[i] == label]
            top = sorted(members, key=lambda i: (-scores[0][i], ids[i]))[:3]
            assert [h.id for h in hits if h.label == label] == [int(ids[i]) for i in top]
        with pytest.raises(flatvec.InvalidArgument, match="group_by_label"):
            c.search("groups", queries[0], k=2, group_size=3)
        with pytest.raises(flatvec.InvalidArgument, match="groups of 4"):
            c.search("groups", queries, k=2, vectors_per_query=4)
        with pytest.raises(flatvec.InvalidArgument, match="max aggregate"):
            c.search("groups", queries, k=2, group_by_label=True, group_size=2, vectors_per_query=3, aggregate="mean")


def test_add_only_if_new_refuses_duplicates_and_names_them(server) -> None:
    """reject_duplicates_above: a batch with a duplicate (stored or within it) is refused whole, named."""
    with Client(server.address) as c:
        c.create_collection("new", 4, metric="cosine")
        c.add("new", [1, 2], [[1, 0, 0, 0], [0, 1, 0, 0]])
        with pytest.raises(flatvec.DuplicateVector) as refused:
            c.add("new", [3, 4, 5, 6], [[0.99, 0.1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0.05, 1]], reject_duplicates_above=0.95)
        found = {d["id"]: d for d in refused.value.duplicates}
        assert set(found) == {3, 5, 6}
        assert found[3]["other"] == 1 and found[3]["stored"] and found[3]["score"] > 0.99
        assert found[5]["other"] == 6 and not found[5]["stored"]
        assert c.list_collections()[0].count == 2
        assert c.add("new", [3, 4], [[0.5, 0.5, 0.7, 0], [0, 0, 1, 0]], reject_duplicates_above=0.95) == (2, 0)
        assert c.add("new", [1], [[1, 0.01, 0, 0]], reject_duplicates_above=0.95) == (0, 1)  # replaces itself
        with pytest.raises(flatvec.InvalidArgument):
            c.add("new", [9], [[1, 0, 0, 0]], reject_duplicates_above=float("inf"))
