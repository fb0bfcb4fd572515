"""The asyncio client: many requests in flight on each connection, matched by request id."""
from __future__ import annotations

import asyncio
import ssl as _ssl
import itertools
import struct
from typing import Any, AsyncIterator, Dict, Iterable, List, Optional, Sequence, Union

from . import _codec as codec
from . import _requests as ops
from ._requests import Operation, Payload, SearchResult
from .errors import ConnectionLost, FlatVecError, error_for


class _Connection:
    def __init__(self, host: str, port: int, timeout: float, ssl: Optional[_ssl.SSLContext] = None,
                 server_hostname: Optional[str] = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.ssl, self.server_hostname = ssl, server_hostname
        self.reader: Optional[asyncio.StreamReader] = None
        self.writer: Optional[asyncio.StreamWriter] = None
        self.pending: Dict[int, asyncio.Future] = {}
        self.ids = itertools.count(1)
        self.reading: Optional[asyncio.Task] = None

    @property
    def open(self) -> bool:
        return self.writer is not None and not self.writer.is_closing()

    async def connect(self, token: str, client_name: str) -> codec.HelloReply:
        try:
            if self.ssl is None:
                opening = asyncio.open_connection(self.host, self.port)
            else:
                opening = asyncio.open_connection(self.host, self.port, ssl=self.ssl, server_hostname=self.server_hostname or self.host)
            self.reader, self.writer = await asyncio.wait_for(opening, self.timeout)
        except _ssl.SSLError as e:
            raise ConnectionLost("TLS handshake with %s:%d failed: %s" % (self.host, self.port, e)) from e
        except (OSError, asyncio.TimeoutError) as e:
            raise ConnectionLost("cannot connect to %s:%d: %s" % (self.host, self.port, e)) from e
        self.reading = asyncio.ensure_future(self._read_replies())
        return await self.send(ops.hello(token, client_name))

    async def _read_replies(self) -> None:
        assert self.reader is not None
        failure: Exception = ConnectionLost("the server closed the connection")
        try:
            while True:
                (length,) = struct.unpack("<I", await self.reader.readexactly(4))
                body = await self.reader.readexactly(length)
                reply, _ = codec.split_frame(struct.pack("<I", length) + body)
                assert reply is not None
                future = self.pending.pop(reply.request_id, None)
                if reply.request_id == 0 and reply.flags & codec.FLAG_ERROR:
                    code, message = codec.decode_error(reply.payload)
                    failure = error_for(code, message)
                    break
                if future is not None and not future.done():
                    future.set_result(reply)
        except (asyncio.IncompleteReadError, OSError) as e:
            failure = ConnectionLost("connection to %s:%d lost: %s" % (self.host, self.port, e))
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(failure)
            self.pending.clear()
            if self.writer is not None:
                self.writer.close()

    async def send(self, op: Operation) -> Any:
        if not self.open:
            raise ConnectionLost("the connection to %s:%d is closed" % (self.host, self.port))
        assert self.writer is not None
        request_id = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[request_id] = future
        self.writer.write(codec.frame(op.opcode, request_id, op.payload))
        try:
            await self.writer.drain()
        except OSError as e:
            self.pending.pop(request_id, None)
            raise ConnectionLost("connection to %s:%d lost: %s" % (self.host, self.port, e)) from e
        reply = await asyncio.wait_for(future, self.timeout)
        if reply.flags & codec.FLAG_ERROR:
            raise error_for(*codec.decode_error(reply.payload))
        return op.decode(reply.payload)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass
        if self.reading is not None:
            await asyncio.gather(self.reading, return_exceptions=True)


class AsyncClient:
    """An asyncio FlatVec client over a small pool of pipelined connections.

    ``await AsyncClient.connect("127.0.0.1:7070", token=None, timeout=30.0, pool_size=2)``, or
    ``async with AsyncClient("...") as client``. Requests are spread over the pool; each connection
    carries many requests at once. Reads reconnect and retry once after a lost connection; writes
    raise :class:`ConnectionLost` (outcome unknown: retry them, ADD and REMOVE are idempotent).
    ``ssl=ssl.create_default_context(cafile="ca.pem")`` connects with TLS (see :class:`flatvec.Client`).
    """

    def __init__(self, address: str = "127.0.0.1:7070", token: Optional[str] = None, timeout: float = 30.0,
                 pool_size: int = 2, client_name: str = "flatvec-python-async", ssl: Optional[_ssl.SSLContext] = None,
                 server_hostname: Optional[str] = None) -> None:
        self.host, self.port = ops.parse_address(address)
        self.timeout = timeout
        self._token = ops.token_from(token)
        self._client_name = client_name
        self._pool = [_Connection(self.host, self.port, timeout, ssl, server_hostname) for _ in range(max(1, pool_size))]
        self._turn = itertools.count()
        self._locks = [asyncio.Lock() for _ in self._pool]
        self.server_info: Optional[codec.HelloReply] = None

    @classmethod
    async def connect(cls, address: str = "127.0.0.1:7070", **kwargs: Any) -> "AsyncClient":
        client = cls(address, **kwargs)
        await client.open()
        return client

    async def open(self) -> None:
        """Opens every connection of the pool (HELLO on each)."""
        for connection in self._pool:
            self.server_info = await connection.connect(self._token, self._client_name)

    async def _connection(self) -> _Connection:
        i = next(self._turn) % len(self._pool)
        connection = self._pool[i]
        if not connection.open:
            async with self._locks[i]:
                if not self._pool[i].open:
                    fresh = _Connection(self.host, self.port, self.timeout)
                    await fresh.connect(self._token, self._client_name)
                    self._pool[i] = fresh
            connection = self._pool[i]
        return connection

    async def _run(self, op: Operation) -> Any:
        connection = await self._connection()
        try:
            return await connection.send(op)
        except ConnectionLost:
            if not op.retry_safe:
                raise
        return await (await self._connection()).send(op)

    async def close(self) -> None:
        """Closes every connection; requests still in flight raise :class:`ConnectionLost`."""
        await asyncio.gather(*(c.close() for c in self._pool))

    async def __aenter__(self) -> "AsyncClient":
        if self.server_info is None:
            await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def ping(self, data: bytes = b"") -> bytes:
        return await self._run(ops.ping(data))

    async def create_collection(self, name: str, dimension: int, metric: str = "ip", attributes: Any = None) -> None:
        await self._run(ops.create_collection(name, dimension, metric, attributes))

    async def add_attribute(self, collection: str, name: str, type: str) -> None:
        await self._run(ops.add_attribute(collection, name, type))

    async def drop_attribute(self, collection: str, name: str) -> None:
        await self._run(ops.drop_attribute(collection, name))

    async def update(self, collection: str, updates: Sequence[dict]) -> int:
        return await self._run(ops.update(collection, updates))

    async def set_attributes(self, collection: str, ids: Iterable[int], values: dict, clear: Iterable[str] = ()) -> int:
        return await self.update(collection, [{"id": int(i), "set": values, "clear": list(clear)} for i in ids])

    async def describe_collection(self, name: str) -> codec.CollectionDescription:
        return await self._run(ops.describe_collection(name))

    async def drop_collection(self, name: str) -> None:
        await self._run(ops.drop_collection(name))

    async def list_collections(self) -> List[codec.CollectionInfo]:
        return await self._run(ops.list_collections())

    async def add(self, collection: str, ids: Any, vectors: Any, labels: Any = None,
                  payloads: Optional[Sequence[Payload]] = None, attributes: Optional[Sequence[Optional[dict]]] = None,
                  reject_duplicates_above: Optional[float] = None) -> tuple:
        """See :meth:`flatvec.Client.add`."""
        return await self._run(ops.add(collection, ids, vectors, labels, payloads, attributes, reject_duplicates_above))

    async def remove(self, collection: str, ids: Iterable[int]) -> int:
        return await self._run(ops.remove(collection, ids))

    async def get(self, collection: str, ids: Iterable[int], with_vectors: bool = True,
                  with_payloads: bool = True, with_attributes: bool = True) -> List[codec.StoredVector]:
        return await self._run(ops.get(collection, ids, with_vectors, with_payloads, with_attributes))

    async def search(self, collection: str, queries: Any, k: Union[int, str] = 10, *, min_score: Optional[float] = None,
                     labels: Optional[Iterable[int]] = None, group_by_label: bool = False,
                     with_payloads: bool = False, with_vectors: bool = False, filter: Any = None,
                     filters: Optional[Sequence[Any]] = None, with_attributes: bool = False, group_size: int = 1,
                     vectors_per_query: Optional[int] = None, query_groups: Optional[Sequence[int]] = None,
                     aggregate: str = "max") -> SearchResult:
        """See :meth:`flatvec.Client.search`."""
        return await self._run(ops.search(collection, queries, k, min_score, labels, group_by_label, with_payloads, with_vectors,
                                          filter, filters, with_attributes, None, True, group_size, vectors_per_query,
                                          query_groups, aggregate))

    async def search_by_id(self, collection: str, ids: Iterable[int], k: Union[int, str] = 10, *, exclude_self: bool = True,
                           filter: Any = None, min_score: Optional[float] = None, group_by_label: bool = False,
                           with_payloads: bool = False, with_attributes: bool = False) -> SearchResult:
        return await self._run(ops.search(collection, None, k, min_score, None, group_by_label, with_payloads, False,
                                          filter, None, with_attributes, ids, exclude_self))

    async def duplicates(self, collection: str, min_score: float, *, filter: Any = None,
                         page_size: int = 100_000) -> AsyncIterator[codec.DuplicatePage]:
        """See :meth:`flatvec.Client.duplicates`: ``async for page in client.duplicates(...)``. All
        pages of one sweep go over one connection of the pool."""
        connection = await self._connection()
        page = await connection.send(ops.duplicates(collection, min_score, 0, page_size, filter))
        try:
            while True:
                yield page
                if page.finished:
                    return
                page = await connection.send(ops.duplicates(collection, min_score, page.cursor, page_size))
        finally:
            if not page.finished:
                try:
                    await connection.send(ops.duplicates(collection, min_score, page.cursor, 1, end=True))
                except FlatVecError:
                    pass

    async def duplicate_pairs(self, collection: str, min_score: float, *, filter: Any = None) -> codec.DuplicatePage:
        """See :meth:`flatvec.Client.duplicate_pairs`."""
        return ops.joined_pages([page async for page in self.duplicates(collection, min_score, filter=filter)])

    async def stats(self) -> codec.Stats:
        return await self._run(ops.stats())

    async def rebuild(self, collection: str = "") -> List[codec.CollectionInfo]:
        return await self._run(ops.rebuild(collection))
