"""The FlatVec wire protocol (proto-spec/PROTOCOL.md), version 1: pure encode and decode, no sockets.

Shared by the blocking and the asyncio client. Vectors travel as little-endian float32 and are read
with numpy without a Python loop per float.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

VERSION = 1
HEADER = struct.Struct("<IBBHQ")  # length, version, opcode, flags, request id
HEADER_SIZE = 12  # after the length prefix

HELLO, PING, CREATE, DROP, LIST = 0x01, 0x02, 0x10, 0x11, 0x12
ADD, REMOVE, GET, SEARCH, STATS, REBUILD = 0x20, 0x21, 0x22, 0x30, 0x40, 0x50

FLAG_REPLY, FLAG_ERROR = 0x0001, 0x0002

# SEARCH flags (also in its reply: bits 1 and 2)
GROUP_BY_LABEL, WITH_PAYLOADS, WITH_VECTORS, HAS_MIN_SCORE, HAS_LABELS = 0x01, 0x02, 0x04, 0x08, 0x10
# GET flags
GET_VECTORS, GET_PAYLOADS = 0x01, 0x02

METRICS = {"ip": 0, "cosine": 1}
METRIC_NAMES = {0: "ip", 1: "cosine"}
SCANS = {"float32": 0, "int8": 1}
SCAN_NAMES = {0: "float32", 1: "int8"}


class DecodeError(ValueError):
    """Bytes that are not a valid frame or message."""


class Reader:
    """Reads little-endian fields off a bytes-like payload, checking every length."""

    def __init__(self, data: bytes) -> None:
        self.data = memoryview(data)
        self.offset = 0

    def take(self, n: int) -> memoryview:
        if n < 0 or self.offset + n > len(self.data):
            raise DecodeError("payload ends early (%d more bytes needed at offset %d)" % (n, self.offset))
        view = self.data[self.offset:self.offset + n]
        self.offset += n
        return view

    def unpack(self, fmt: str) -> Tuple[Any, ...]:
        s = struct.Struct("<" + fmt)
        return s.unpack(self.take(s.size))

    def u8(self) -> int:
        return self.unpack("B")[0]

    def u16(self) -> int:
        return self.unpack("H")[0]

    def u32(self) -> int:
        return self.unpack("I")[0]

    def u64(self) -> int:
        return self.unpack("Q")[0]

    def f32(self) -> float:
        return self.unpack("f")[0]

    def string(self) -> str:
        return bytes(self.take(self.u32())).decode("utf-8")

    def optional_bytes(self) -> Optional[bytes]:
        n = self.u32()
        return None if n == 0xFFFFFFFF else bytes(self.take(n))

    def array(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize
        return np.frombuffer(self.take(count * size), dtype=dtype).copy()

    def end(self, what: str) -> None:
        if self.offset != len(self.data):
            raise DecodeError("%d unexpected bytes after the %s payload" % (len(self.data) - self.offset, what))


def string(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<I", len(b)) + b


def optional_bytes(b: Optional[bytes]) -> bytes:
    return struct.pack("<I", 0xFFFFFFFF) if b is None else struct.pack("<I", len(b)) + b


def frame(opcode: int, request_id: int, payload: bytes, flags: int = 0) -> bytes:
    """One frame: length prefix, header, payload."""
    return HEADER.pack(HEADER_SIZE + len(payload), VERSION, opcode, flags, request_id) + payload


@dataclass
class Frame:
    version: int
    opcode: int
    flags: int
    request_id: int
    payload: bytes


def split_frame(data: bytes) -> Tuple[Optional[Frame], int]:
    """The first whole frame of ``data`` and the bytes it took, or (None, 0) if it is not all there."""
    if len(data) < 4:
        return None, 0
    (length,) = struct.unpack_from("<I", data, 0)
    if length < HEADER_SIZE:
        raise DecodeError("declared frame length %d is shorter than the header" % length)
    if len(data) < 4 + length:
        return None, 0
    _, version, opcode, flags, request_id = HEADER.unpack_from(data, 0)
    return Frame(version, opcode, flags, request_id, bytes(data[4 + HEADER_SIZE:4 + length])), 4 + length


# ---------------------------------------------------------------- requests

def hello_request(token: str, client_name: str, min_version: int = 1, max_version: int = 1) -> bytes:
    return struct.pack("<HH", min_version, max_version) + string(token) + string(client_name)


def create_request(name: str, dimension: int, metric: int) -> bytes:
    return string(name) + struct.pack("<IB", dimension, metric)


def ids_request(collection: str, ids: np.ndarray) -> bytes:
    ids = np.ascontiguousarray(ids, dtype="<i8")
    return string(collection) + struct.pack("<I", len(ids)) + ids.tobytes()


def add_request(collection: str, ids: np.ndarray, labels: np.ndarray, vectors: np.ndarray,
                payloads: Optional[Sequence[Optional[bytes]]]) -> bytes:
    n, d = vectors.shape
    parts = [string(collection), struct.pack("<IIB", n, d, 1 if payloads is not None else 0),
             np.ascontiguousarray(ids, dtype="<i8").tobytes(), np.ascontiguousarray(labels, dtype="<i8").tobytes(),
             np.ascontiguousarray(vectors, dtype="<f4").tobytes()]
    if payloads is not None:
        parts.extend(optional_bytes(p) for p in payloads)
    return b"".join(parts)


def get_request(collection: str, ids: np.ndarray, with_vectors: bool, with_payloads: bool) -> bytes:
    flags = (GET_VECTORS if with_vectors else 0) | (GET_PAYLOADS if with_payloads else 0)
    ids = np.ascontiguousarray(ids, dtype="<i8")
    return string(collection) + struct.pack("<BI", flags, len(ids)) + ids.tobytes()


def search_request(collection: str, k: int, queries: np.ndarray, min_score: Optional[float],
                   labels: Optional[Sequence[int]], group_by_label: bool, with_payloads: bool,
                   with_vectors: bool) -> bytes:
    flags = ((GROUP_BY_LABEL if group_by_label else 0) | (WITH_PAYLOADS if with_payloads else 0)
             | (WITH_VECTORS if with_vectors else 0) | (HAS_MIN_SCORE if min_score is not None else 0)
             | (HAS_LABELS if labels is not None else 0))
    label_array = np.array(sorted(set(int(x) for x in labels)) if labels is not None else [], dtype="<i8")
    nq, d = queries.shape
    return b"".join([
        string(collection), struct.pack("<IBf", k, flags, min_score if min_score is not None else 0.0),
        struct.pack("<I", len(label_array)), label_array.tobytes(), struct.pack("<II", nq, d),
        np.ascontiguousarray(queries, dtype="<f4").tobytes(),
    ])


# ---------------------------------------------------------------- replies

@dataclass
class HelloReply:
    version: int
    role: int
    max_frame_bytes: int
    max_k: int
    max_batch: int
    server: str


@dataclass
class CollectionInfo:
    """A collection as LIST_COLLECTIONS (and REBUILD, with ``skipped_rows``) describe it."""

    name: str
    dimension: int
    metric: str
    count: int
    skipped_rows: int = 0


@dataclass
class StoredVector:
    """A row as GET returns it."""

    id: int
    label: int
    vector: Optional[np.ndarray]
    payload: Optional[bytes]


@dataclass
class Hit:
    id: int
    label: int
    score: float
    payload: Optional[bytes] = None
    vector: Optional[np.ndarray] = None


@dataclass
class CollectionStats:
    """One collection in STATS: its size, and how its searches read the vectors (``scan``:
    ``"float32"`` or ``"int8"``, with the memory its codes take and the rows bounded and rescored)."""

    name: str
    dimension: int
    metric: str
    count: int
    memory_bytes: int
    skipped_rows: int
    scan: str = "float32"
    code_bytes: int = 0
    rows_bounded: int = 0
    rows_rescored: int = 0


@dataclass
class OperationStats:
    opcode: int
    requests: int
    errors: int
    p50_us: int
    p90_us: int
    p99_us: int
    max_us: int


@dataclass
class Stats:
    uptime_ms: int
    blas_library: str
    blas_kernel: str
    open_connections: int
    total_connections: int
    collections: List[CollectionStats] = field(default_factory=list)
    operations: List[OperationStats] = field(default_factory=list)


def decode_hello_reply(payload: bytes) -> HelloReply:
    r = Reader(payload)
    version, role, max_frame, max_k, max_batch = r.unpack("HBIII")
    reply = HelloReply(version, role, max_frame, max_k, max_batch, r.string())
    r.end("HELLO reply")
    return reply


def decode_collections(payload: bytes, with_skipped: bool) -> List[CollectionInfo]:
    r = Reader(payload)
    out = []
    for _ in range(r.u32()):
        name = r.string()
        dimension, metric, count = r.unpack("IBQ")
        skipped = r.u64() if with_skipped else 0
        out.append(CollectionInfo(name, dimension, METRIC_NAMES.get(metric, str(metric)), count, skipped))
    r.end("REBUILD reply" if with_skipped else "LIST_COLLECTIONS reply")
    return out


def encode_collections(items: Sequence[CollectionInfo], with_skipped: bool) -> bytes:
    parts = [struct.pack("<I", len(items))]
    for c in items:
        parts.append(string(c.name) + struct.pack("<IBQ", c.dimension, METRICS[c.metric], c.count))
        if with_skipped:
            parts.append(struct.pack("<Q", c.skipped_rows))
    return b"".join(parts)


def decode_get_reply(payload: bytes) -> Tuple[int, int, List[StoredVector]]:
    r = Reader(payload)
    flags, dimension, n = r.unpack("BII")
    rows = []
    for _ in range(n):
        row_id, label = r.unpack("qq")
        vector = r.array("<f4", dimension) if flags & GET_VECTORS else None
        payload_bytes = r.optional_bytes() if flags & GET_PAYLOADS else None
        rows.append(StoredVector(row_id, label, vector, payload_bytes))
    r.end("GET reply")
    return flags, dimension, rows


def encode_get_reply(flags: int, dimension: int, rows: Sequence[StoredVector]) -> bytes:
    parts = [struct.pack("<BII", flags, dimension, len(rows))]
    for row in rows:
        parts.append(struct.pack("<qq", row.id, row.label))
        if flags & GET_VECTORS:
            parts.append(np.ascontiguousarray(row.vector, dtype="<f4").tobytes())
        if flags & GET_PAYLOADS:
            parts.append(optional_bytes(row.payload))
    return b"".join(parts)


def decode_search_columns(payload: bytes) -> Tuple[int, int, List[Any]]:
    """The hits of every query, cheaply: without payloads, one numpy record array per query (fields
    ``id``, ``label``, ``score`` and, with vectors, ``vector``) read in one go; with payloads (variable
    length), a list of :class:`Hit`."""
    r = Reader(payload)
    flags, dimension, nq = r.unpack("BII")
    with_payloads, with_vectors = bool(flags & WITH_PAYLOADS), bool(flags & WITH_VECTORS)
    fixed = np.dtype([("id", "<i8"), ("label", "<i8"), ("score", "<f4")] + ([("vector", "<f4", (dimension,))] if with_vectors else []))
    results: List[Any] = []
    for _ in range(nq):
        hits = r.u32()
        if not with_payloads:
            results.append(np.frombuffer(r.take(hits * fixed.itemsize), dtype=fixed))
            continue
        row = []
        for _ in range(hits):
            hit_id, label, score = r.unpack("qqf")
            payload_bytes = r.optional_bytes()
            vector = r.array("<f4", dimension) if with_vectors else None
            row.append(Hit(hit_id, label, score, payload_bytes, vector))
        results.append(row)
    r.end("SEARCH reply")
    return flags, dimension, results


def hits_of(column: Any) -> List[Hit]:
    """One query's hits as :class:`Hit` objects, from either form :func:`decode_search_columns` gives."""
    if isinstance(column, list):
        return column
    with_vectors = "vector" in (column.dtype.names or ())
    return [Hit(int(x["id"]), int(x["label"]), float(x["score"]), None, np.array(x["vector"]) if with_vectors else None)
            for x in column]


def decode_search_reply(payload: bytes) -> Tuple[int, int, List[List[Hit]]]:
    """The hits of every query as :class:`Hit` objects."""
    flags, dimension, columns = decode_search_columns(payload)
    return flags, dimension, [hits_of(c) for c in columns]


def encode_search_reply(flags: int, dimension: int, results: Sequence[Sequence[Hit]]) -> bytes:
    parts = [struct.pack("<BII", flags, dimension, len(results))]
    for hits in results:
        parts.append(struct.pack("<I", len(hits)))
        for h in hits:
            parts.append(struct.pack("<qqf", h.id, h.label, h.score))
            if flags & WITH_PAYLOADS:
                parts.append(optional_bytes(h.payload))
            if flags & WITH_VECTORS:
                parts.append(np.ascontiguousarray(h.vector, dtype="<f4").tobytes())
    return b"".join(parts)


def decode_stats(payload: bytes) -> Stats:
    r = Reader(payload)
    uptime = r.u64()
    library, kernel = r.string(), r.string()
    open_connections, total = r.unpack("IQ")
    stats = Stats(uptime, library, kernel, open_connections, total)
    for _ in range(r.u32()):
        name = r.string()
        dimension, metric, count, memory, skipped, scan, code_bytes, bounded, rescored = r.unpack("IBQQQBQQQ")
        stats.collections.append(CollectionStats(
            name, dimension, METRIC_NAMES.get(metric, str(metric)), count, memory, skipped,
            SCAN_NAMES.get(scan, str(scan)), code_bytes, bounded, rescored,
        ))
    for _ in range(r.u32()):
        stats.operations.append(OperationStats(*r.unpack("BQQQQQQ")))
    r.end("STATS reply")
    return stats


def encode_stats(s: Stats) -> bytes:
    parts = [struct.pack("<Q", s.uptime_ms), string(s.blas_library), string(s.blas_kernel),
             struct.pack("<IQI", s.open_connections, s.total_connections, len(s.collections))]
    for c in s.collections:
        parts.append(string(c.name) + struct.pack(
            "<IBQQQBQQQ", c.dimension, METRICS[c.metric], c.count, c.memory_bytes, c.skipped_rows,
            SCANS[c.scan], c.code_bytes, c.rows_bounded, c.rows_rescored,
        ))
    parts.append(struct.pack("<I", len(s.operations)))
    for o in s.operations:
        parts.append(struct.pack("<BQQQQQQ", o.opcode, o.requests, o.errors, o.p50_us, o.p90_us, o.p99_us, o.max_us))
    return b"".join(parts)


def decode_error(payload: bytes) -> Tuple[int, str]:
    r = Reader(payload)
    code = r.u16()
    message = r.string()
    r.end("error")
    return code, message
