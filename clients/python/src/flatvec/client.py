"""The blocking client: one connection, safe to share between threads."""
from __future__ import annotations

import socket
import ssl as _ssl
import struct
import threading
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Union

from . import _codec as codec
from . import _requests as ops
from ._requests import Operation, Payload, SearchResult
from .errors import ConnectionLost, FlatVecError, error_for


class Client:
    """A blocking FlatVec client.

    ``Client("127.0.0.1:7070", token=None, timeout=30.0, ssl=None)``: the token defaults to the
    ``FLATVEC_TOKEN`` environment variable. For a server started with ``--tls-cert-file``, pass an
    :class:`ssl.SSLContext` (``ssl.create_default_context(cafile="ca.pem")``; for mutual TLS also
    ``context.load_cert_chain("client.pem", "client.key")``); the server name checked is ``server_hostname``
    or the host of ``address``. Requests from several threads take turns on the one connection. If the
    connection is lost, reads (search, get, list, stats, ping) reconnect and are sent once more;
    writes raise :class:`ConnectionLost` (their outcome is unknown: retry them, ADD and REMOVE are
    idempotent).
    """

    def __init__(self, address: str = "127.0.0.1:7070", token: Optional[str] = None, timeout: float = 30.0,
                 client_name: str = "flatvec-python", ssl: Optional["_ssl.SSLContext"] = None,
                 server_hostname: Optional[str] = None) -> None:
        self.host, self.port = ops.parse_address(address)
        self._ssl = ssl
        self._server_hostname = server_hostname or self.host
        self.timeout = timeout
        self._token = ops.token_from(token)
        self._client_name = client_name
        self._lock = threading.Lock()
        self._sock: Optional[socket.socket] = None
        self._next_id = 1
        self.server_info: Optional[codec.HelloReply] = None
        with self._lock:
            self._connect()

    # -- connection

    def _connect(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as e:
            raise ConnectionLost("cannot connect to %s:%d: %s" % (self.host, self.port, e.strerror or e)) from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._ssl is not None:
            try:
                sock = self._ssl.wrap_socket(sock, server_hostname=self._server_hostname)
            except (OSError, _ssl.SSLError) as e:
                sock.close()
                raise ConnectionLost("TLS handshake with %s:%d failed: %s" % (self.host, self.port, e)) from e
        self._sock = sock
        self.server_info = self._exchange(ops.hello(self._token, self._client_name))

    def _exchange(self, op: Operation) -> Any:
        assert self._sock is not None
        request_id = self._next_id
        self._next_id += 1
        try:
            self._sock.sendall(codec.frame(op.opcode, request_id, op.payload))
            prefix = self._recv(4)
            (length,) = struct.unpack("<I", prefix)
            reply, _ = codec.split_frame(prefix + self._recv(length))
        except (OSError, ConnectionLost) as e:
            self._drop()
            if isinstance(e, ConnectionLost):
                raise
            raise ConnectionLost("connection to %s:%d lost: %s" % (self.host, self.port, e)) from e
        assert reply is not None
        if reply.flags & codec.FLAG_ERROR:
            code, message = codec.decode_error(reply.payload)
            error = error_for(code, message)
            if reply.request_id == 0:
                self._drop()  # the server closes after a connection-level error
            raise error
        return op.decode(reply.payload)

    def _recv(self, n: int) -> bytes:
        assert self._sock is not None
        chunks = []
        while n:
            chunk = self._sock.recv(min(n, 1 << 20))
            if not chunk:
                raise ConnectionLost("the server closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def _drop(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _run(self, op: Operation) -> Any:
        with self._lock:
            if self._sock is None:
                self._connect()
            try:
                return self._exchange(op)
            except ConnectionLost:
                if not op.retry_safe:
                    raise
            self._connect()
            return self._exchange(op)

    def close(self) -> None:
        """Closes the connection."""
        with self._lock:
            self._drop()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- operations

    def ping(self, data: bytes = b"") -> bytes:
        """Round trip; returns ``data``."""
        return self._run(ops.ping(data))

    def create_collection(self, name: str, dimension: int, metric: str = "ip", attributes: Any = None) -> None:
        """Creates a collection; ``metric`` is ``"ip"`` (inner product) or ``"cosine"``; ``attributes``
        declares typed attributes, e.g. ``{"category": "keyword", "visible": "bool"}`` (types: bool,
        int64, float64, keyword)."""
        self._run(ops.create_collection(name, dimension, metric, attributes))

    def add_attribute(self, collection: str, name: str, type: str) -> None:
        """Declares a new attribute; stored vectors have no value for it until set."""
        self._run(ops.add_attribute(collection, name, type))

    def drop_attribute(self, collection: str, name: str) -> None:
        """Drops an attribute and every value of it."""
        self._run(ops.drop_attribute(collection, name))

    def update(self, collection: str, updates: Sequence[dict]) -> int:
        """Changes labels, payloads or attribute values of stored vectors without resending them, all or
        nothing. Each update: ``{"id": 5, "label": 3, "payload": {...} (None clears it), "set": {"visible":
        True}, "clear": ["price"]}``; what an update leaves out stays. Returns how many rows changed."""
        return self._run(ops.update(collection, updates))

    def set_attributes(self, collection: str, ids: Iterable[int], values: dict, clear: Iterable[str] = ()) -> int:
        """Gives every id in ``ids`` the attribute ``values`` (and clears ``clear``): one UPDATE."""
        return self.update(collection, [{"id": int(i), "set": values, "clear": list(clear)} for i in ids])

    def describe_collection(self, name: str) -> codec.CollectionDescription:
        """A collection's dimension, metric, count and attributes (name -> type)."""
        return self._run(ops.describe_collection(name))

    def drop_collection(self, name: str) -> None:
        """Drops a collection and its vectors."""
        self._run(ops.drop_collection(name))

    def list_collections(self) -> List[codec.CollectionInfo]:
        """Every collection, by name."""
        return self._run(ops.list_collections())

    def add(self, collection: str, ids: Any, vectors: Any, labels: Any = None,
            payloads: Optional[Sequence[Payload]] = None, attributes: Optional[Sequence[Optional[dict]]] = None,
            reject_duplicates_above: Optional[float] = None) -> tuple:
        """Upserts vectors ((n, d) float32 or convertible) with int64 ids, optional labels, payloads
        (str, bytes, or dict/list stored as JSON) and attribute dicts (bool, int, float or str values;
        an attribute left out is null). Returns (inserted, replaced). With ``reject_duplicates_above``
        only what is new is added: a vector scoring at least it with a stored vector (other than the one
        it replaces) or another of the batch refuses the whole batch with :class:`DuplicateVector`,
        whose ``duplicates`` lists each with its best match."""
        return self._run(ops.add(collection, ids, vectors, labels, payloads, attributes, reject_duplicates_above))

    def remove(self, collection: str, ids: Iterable[int]) -> int:
        """Removes ids (all or nothing); returns how many."""
        return self._run(ops.remove(collection, ids))

    def get(self, collection: str, ids: Iterable[int], with_vectors: bool = True,
            with_payloads: bool = True, with_attributes: bool = True) -> List[codec.StoredVector]:
        """The stored rows of ``ids``, in the order asked."""
        return self._run(ops.get(collection, ids, with_vectors, with_payloads, with_attributes))

    def search(self, collection: str, queries: Any, k: Union[int, str] = 10, *, min_score: Optional[float] = None,
               labels: Optional[Iterable[int]] = None, group_by_label: bool = False, with_payloads: bool = False,
               with_vectors: bool = False, filter: Any = None, filters: Optional[Sequence[Any]] = None,
               with_attributes: bool = False, group_size: int = 1, vectors_per_query: Optional[int] = None,
               query_groups: Optional[Sequence[int]] = None, aggregate: str = "max") -> SearchResult:
        """Exact top-k for one query (d,) or a batch (nq, d). ``filter`` (one for all queries) or
        ``filters`` (one per query, None for none) keep only the vectors they are true of, before
        ranking, e.g. ``'visible and category = "shoes"'`` (use :func:`flatvec.quote` for strings).
        ``k="all"`` with ``min_score`` is a range search: every hit scoring at least ``min_score``,
        best first, up to the server's limit (``result.truncated`` says which queries it cut).
        ``group_by_label=True, group_size=n``: up to n hits for each of the k best labels (a label's
        hits follow each other). ``vectors_per_query=n`` (or ``query_groups=[sizes]``) searches groups
        of consecutive query vectors, one ranking per group (one result row per group) by ``aggregate``:
        ``"max"`` (the best score of any vector of the group) or ``"mean"`` (of each vector's score, or
        of each vector's best within a label)."""
        return self._run(ops.search(collection, queries, k, min_score, labels, group_by_label, with_payloads, with_vectors,
                                    filter, filters, with_attributes, None, True, group_size, vectors_per_query,
                                    query_groups, aggregate))

    def search_by_id(self, collection: str, ids: Iterable[int], k: Union[int, str] = 10, *, exclude_self: bool = True,
                     filter: Any = None, min_score: Optional[float] = None, group_by_label: bool = False,
                     with_payloads: bool = False, with_attributes: bool = False) -> SearchResult:
        """"More like this one": the stored vectors of ``ids`` are the queries; with ``exclude_self``
        no query returns its own id."""
        return self._run(ops.search(collection, None, k, min_score, None, group_by_label, with_payloads, False,
                                    filter, None, with_attributes, ids, exclude_self))

    def duplicates(self, collection: str, min_score: float, *, filter: Any = None,
                   page_size: int = 100_000) -> Iterator[codec.DuplicatePage]:
        """Every pair of stored vectors scoring at least ``min_score`` (a near-duplicate sweep, exact),
        page by page as the server finds them: each page's ``pairs`` holds ``a``, ``b`` (``a < b``) and
        ``score``, with the progress (``rows_done`` of ``rows_total``). ``filter`` applies to both
        vectors of a pair. Stopping early (``break``, an exception) ends the sweep on the server."""
        page = self._run(ops.duplicates(collection, min_score, 0, page_size, filter))
        try:
            while True:
                yield page
                if page.finished:
                    return
                page = self._run(ops.duplicates(collection, min_score, page.cursor, page_size))
        finally:
            if not page.finished:
                try:
                    self._run(ops.duplicates(collection, min_score, page.cursor, 1, end=True))
                except FlatVecError:
                    pass

    def duplicate_pairs(self, collection: str, min_score: float, *, filter: Any = None) -> codec.DuplicatePage:
        """The whole sweep of :meth:`duplicates` in one page: ``pairs`` and ``truncated_rows`` (rows with
        more partners than the server lists: only their best are in ``pairs``)."""
        return ops.joined_pages(list(self.duplicates(collection, min_score, filter=filter)))

    def stats(self) -> codec.Stats:
        """Server statistics."""
        return self._run(ops.stats())

    def rebuild(self, collection: str = "") -> List[codec.CollectionInfo]:
        """Reloads collections from the store's external copy (PostgreSQL)."""
        return self._run(ops.rebuild(collection))
