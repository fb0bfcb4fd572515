"""The asyncio client against a real `flatvec serve`."""
from __future__ import annotations

import asyncio

import numpy as np
import pytest

import flatvec
from flatvec import AsyncClient

from .test_client import quantized, reference


def test_a_thousand_concurrent_searches_on_one_client(server) -> None:
    async def main() -> None:
        rng = np.random.default_rng(3)
        vectors = quantized(rng, 1_000, 32)
        ids = np.arange(1_000, dtype=np.int64)
        async with AsyncClient(server.address, pool_size=2) as c:
            await c.create_collection("a", 32)
            await c.add("a", ids, vectors, labels=ids % 10)
            queries = quantized(rng, 1_000, 32)
            results = await asyncio.gather(*(c.search("a", q, k=5) for q in queries))
            for q, result in enumerate(results):
                assert result.ids[0].tolist() == reference(vectors, ids, queries[q], 5)
            assert await c.ping(b"x") == b"x"

    asyncio.run(main())


def test_errors_and_every_operation(server) -> None:
    async def main() -> None:
        c = await AsyncClient.connect(server.address)
        try:
            await c.create_collection("b", 2)
            assert await c.add("b", [1, 2], [[1, 0], [0, 1]], payloads=[{"k": 1}, None]) == (2, 0)
            assert [r.id for r in await c.get("b", [2, 1])] == [2, 1]
            assert (await c.search("b", [[1, 0]], k=1, with_payloads=True)).hits[0][0].payload == b'{"k":1}'
            assert await c.remove("b", [2]) == 1
            assert (await c.list_collections())[0].count == 1
            assert (await c.stats()).collections[0].name == "b"
            with pytest.raises(flatvec.UnknownCollection):
                await c.search("nope", [1, 0])
            await c.drop_collection("b")
        finally:
            await c.close()

    asyncio.run(main())


def test_a_server_restart_reconnects_reads(server) -> None:
    async def main() -> None:
        async with AsyncClient(server.address, pool_size=1) as c:
            await c.create_collection("r", 2)
            await c.add("r", [1], [[1, 0]])
            server.stop()
            server.start()
            assert (await c.search("r", [1, 0], k=1)).ids.tolist() == [[1]]
            server.stop()
            server.start()
            await asyncio.sleep(0.2)
            # The client has seen the connection close, so this write opens a new one before it is
            # sent: sent once, nothing retried.
            assert await c.add("r", [2], [[0, 1]]) == (1, 0)
            assert (await c.list_collections())[0].count == 2

    asyncio.run(main())
