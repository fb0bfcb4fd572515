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

HELLO, PING, CREATE, DROP, LIST, ADD_ATTRIBUTE, DROP_ATTRIBUTE, DESCRIBE = 0x01, 0x02, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15
ADD, REMOVE, GET, UPDATE, SEARCH, STATS, REBUILD = 0x20, 0x21, 0x22, 0x23, 0x30, 0x40, 0x50
# STATS request flags (revision 4): bit 0 asks for each collection's mapped and on-disk bytes.
STATS_STORAGE = 0x01
DUPLICATES = 0x31

FLAG_REPLY, FLAG_ERROR = 0x0001, 0x0002

# SEARCH flags (also in its reply: bits 1, 2 and 6)
GROUP_BY_LABEL, WITH_PAYLOADS, WITH_VECTORS, HAS_MIN_SCORE, HAS_LABELS = 0x01, 0x02, 0x04, 0x08, 0x10
HAS_FILTERS, WITH_ATTRIBUTES, BY_STORED_IDS = 0x20, 0x40, 0x80
# SEARCH extensions (revision 3) and query group aggregates
EXT_GROUP_SIZE, EXT_QUERY_GROUPS = 0x01, 0x02
AGGREGATE_MAX, AGGREGATE_MEAN = 1, 2
AGGREGATES = {"max": AGGREGATE_MAX, "mean": AGGREGATE_MEAN}
# DUPLICATES flags
DUPLICATES_FILTER, DUPLICATES_END = 0x01, 0x02
# GET flags
GET_VECTORS, GET_PAYLOADS, GET_ATTRIBUTES = 0x01, 0x02, 0x04
# ADD flags
ADD_PAYLOADS, ADD_ATTRIBUTES, ADD_REJECT_DUPLICATES = 0x01, 0x02, 0x04
# Attribute types (PROTOCOL.md 4.5) and the filter node that carries filter text
ATTRIBUTE_TYPES = {"bool": 1, "int64": 2, "float64": 3, "keyword": 4}
FILTER_TEXT = 7

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

    def remaining(self) -> int:
        return len(self.data) - self.offset

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


def create_request(name: str, dimension: int, metric: int, attributes: Sequence[Tuple[str, str]] = ()) -> bytes:
    body = string(name) + struct.pack("<IB", dimension, metric)
    if attributes:
        body += struct.pack("<B", len(attributes)) + b"".join(attribute_definition(n, t) for n, t in attributes)
    return body


def attribute_definition(name: str, type_name: str) -> bytes:
    return struct.pack("<B", ATTRIBUTE_TYPES[type_name]) + string(name)


def value(v: Any) -> bytes:
    """One attribute value: bool, int (int64), float (float64) or str (keyword)."""
    if isinstance(v, (bool, np.bool_)):
        return struct.pack("<BB", 1, 1 if v else 0)
    if isinstance(v, (int, np.integer)):
        return struct.pack("<Bq", 2, int(v))
    if isinstance(v, (float, np.floating)):
        return struct.pack("<Bd", 3, float(v))
    if isinstance(v, str):
        return struct.pack("<B", 4) + string(v)
    raise TypeError("attribute values are bool, int, float or str, not %s" % type(v).__name__)


def values(items: Any) -> bytes:
    """``u8 c, c x (string name, value)`` for a dict; ``None`` values are left out (null)."""
    present = sorted((k, v) for k, v in (items or {}).items() if v is not None)
    return struct.pack("<B", len(present)) + b"".join(string(k) + value(v) for k, v in present)


def read_values(r: "Reader") -> dict:
    out = {}
    for _ in range(r.u8()):
        name = r.string()
        out[name] = read_value(r)
    return out


OPERATORS = {"=": 1, "!=": 2, "<": 3, "<=": 4, ">": 5, ">=": 6}
OPERATOR_NAMES = {v: k for k, v in OPERATORS.items()}


def filter_node(f: Any) -> bytes:
    """A filter on the wire: a ``str`` in the filter grammar (sent as a text node, parsed by the
    server), or a tree of tuples: ``("=", field, value)`` (any of = != < <= > >=), ``("in", field,
    [values])``, ``("is null", field)``, ``("and", [filters])``, ``("or", [filters])``, ``("not", filter)``,
    where ``field`` is ``"id"``, ``"label"`` or ``("attribute", name)``."""
    if isinstance(f, str):
        return struct.pack("<B", FILTER_TEXT) + string(f)
    kind = f[0]
    if kind in OPERATORS:
        return struct.pack("<B", 1) + filter_field(f[1]) + struct.pack("<B", OPERATORS[kind]) + value(f[2])
    if kind == "in":
        if len(f[2]) == 0:
            raise ValueError("an in list needs at least one value (PostgreSQL has no empty IN; PROTOCOL.md 4.5)")
        return struct.pack("<B", 2) + filter_field(f[1]) + struct.pack("<I", len(f[2])) + b"".join(value(v) for v in f[2])
    if kind == "is null":
        return struct.pack("<B", 3) + filter_field(f[1])
    if kind in ("and", "or"):
        return struct.pack("<BH", 4 if kind == "and" else 5, len(f[1])) + b"".join(filter_node(p) for p in f[1])
    if kind == "not":
        return struct.pack("<B", 6) + filter_node(f[1])
    raise ValueError("unknown filter node %r" % (kind,))


def filter_field(field: Any) -> bytes:
    if field == "id":
        return b"\x01"
    if field == "label":
        return b"\x02"
    return b"\x03" + string(field[1])


def read_value(r: "Reader") -> Any:
    kind = r.u8()
    if kind == 1:
        return r.u8() == 1
    if kind == 2:
        return r.unpack("q")[0]
    if kind == 3:
        return r.unpack("d")[0]
    if kind == 4:
        return r.string()
    raise DecodeError("unknown attribute type %d" % kind)


def read_filter(r: "Reader") -> Any:
    """The tuple tree of :func:`filter_node` (text nodes come back as ``str``)."""
    tag = r.u8()

    def field() -> Any:
        kind = r.u8()
        return "id" if kind == 1 else "label" if kind == 2 else ("attribute", r.string())

    if tag == 1:
        f = field()
        return (OPERATOR_NAMES[r.u8()], f, read_value(r))
    if tag == 2:
        f = field()
        return ("in", f, [read_value(r) for _ in range(r.u32())])
    if tag == 3:
        return ("is null", field())
    if tag in (4, 5):
        return ("and" if tag == 4 else "or", [read_filter(r) for _ in range(r.u16())])
    if tag == 6:
        return ("not", read_filter(r))
    if tag == FILTER_TEXT:
        return r.string()
    raise DecodeError("unknown filter node %d" % tag)


def ids_request(collection: str, ids: np.ndarray) -> bytes:
    ids = np.ascontiguousarray(ids, dtype="<i8")
    return string(collection) + struct.pack("<I", len(ids)) + ids.tobytes()


def add_request(collection: str, ids: np.ndarray, labels: np.ndarray, vectors: np.ndarray,
                payloads: Optional[Sequence[Optional[bytes]]], attributes: Optional[Sequence[Any]] = None,
                reject_above: Optional[float] = None) -> bytes:
    n, d = vectors.shape
    flags = ((ADD_PAYLOADS if payloads is not None else 0) | (ADD_ATTRIBUTES if attributes is not None else 0)
             | (ADD_REJECT_DUPLICATES if reject_above is not None else 0))
    parts = [string(collection), struct.pack("<IIB", n, d, flags),
             np.ascontiguousarray(ids, dtype="<i8").tobytes(), np.ascontiguousarray(labels, dtype="<i8").tobytes(),
             np.ascontiguousarray(vectors, dtype="<f4").tobytes()]
    if payloads is not None:
        parts.extend(optional_bytes(p) for p in payloads)
    if attributes is not None:
        parts.extend(values(a) for a in attributes)
    if reject_above is not None:
        parts.append(struct.pack("<f", reject_above))
    return b"".join(parts)


def update_request(collection: str, updates: Sequence[dict]) -> bytes:
    parts = [string(collection), struct.pack("<I", len(updates))]
    for u in updates:
        flags = 0
        label = u.get("label")
        payload = u.get("payload", ...)
        if label is not None:
            flags |= 1
        if payload is None:
            flags |= 4
        elif payload is not ...:
            flags |= 2
        parts.append(struct.pack("<qB", int(u["id"]), flags))
        if label is not None:
            parts.append(struct.pack("<q", int(label)))
        if flags & 2:
            parts.append(optional_bytes(payload))
        parts.append(values(u.get("set")))
        cleared = sorted(u.get("clear", ()))
        parts.append(struct.pack("<B", len(cleared)) + b"".join(string(c) for c in cleared))
    return b"".join(parts)


def get_request(collection: str, ids: np.ndarray, with_vectors: bool, with_payloads: bool,
                with_attributes: bool = False) -> bytes:
    flags = (GET_VECTORS if with_vectors else 0) | (GET_PAYLOADS if with_payloads else 0) | (GET_ATTRIBUTES if with_attributes else 0)
    ids = np.ascontiguousarray(ids, dtype="<i8")
    return string(collection) + struct.pack("<BI", flags, len(ids)) + ids.tobytes()


def search_request(collection: str, k: int, queries: Optional[np.ndarray], min_score: Optional[float],
                   labels: Optional[Sequence[int]], group_by_label: bool, with_payloads: bool,
                   with_vectors: bool, filters: Optional[Sequence[Any]] = None, shared_filter: Any = None,
                   with_attributes: bool = False, stored_ids: Optional[np.ndarray] = None, exclude_self: bool = True,
                   group_size: int = 1, groups: Optional[Sequence[int]] = None, aggregate: int = AGGREGATE_MAX) -> bytes:
    """``filters`` (one filter or None per query, see :func:`filter_node`) or ``shared_filter`` (one for all); with
    ``stored_ids`` the queries are stored vectors instead of ``queries``; ``group_size`` hits per label and
    ``groups`` (sizes of groups of consecutive queries, ranked by ``aggregate``) go in the extensions."""
    flags = ((GROUP_BY_LABEL if group_by_label else 0) | (WITH_PAYLOADS if with_payloads else 0)
             | (WITH_VECTORS if with_vectors else 0) | (HAS_MIN_SCORE if min_score is not None else 0)
             | (HAS_LABELS if labels is not None else 0)
             | (HAS_FILTERS if filters is not None or shared_filter is not None else 0)
             | (WITH_ATTRIBUTES if with_attributes else 0) | (BY_STORED_IDS if stored_ids is not None else 0))
    label_array = np.array(sorted(set(int(x) for x in labels)) if labels is not None else [], dtype="<i8")
    parts = [
        string(collection), struct.pack("<IBf", k, flags, min_score if min_score is not None else 0.0),
        struct.pack("<I", len(label_array)), label_array.tobytes(),
    ]
    if stored_ids is not None:
        parts += [struct.pack("<IB", len(stored_ids), 1 if exclude_self else 0),
                  np.ascontiguousarray(stored_ids, dtype="<i8").tobytes()]
    else:
        assert queries is not None
        nq, d = queries.shape
        parts += [struct.pack("<II", nq, d), np.ascontiguousarray(queries, dtype="<f4").tobytes()]
    if filters is not None:
        parts.append(struct.pack("<B", 2))
        parts.extend(filter_node(f) if f is not None else b"\x00" for f in filters)
    elif shared_filter is not None:
        parts += [struct.pack("<B", 1), filter_node(shared_filter)]
    extensions = (EXT_GROUP_SIZE if group_size != 1 else 0) | (EXT_QUERY_GROUPS if groups is not None else 0)
    if extensions:
        parts.append(struct.pack("<B", extensions))
        if group_size != 1:
            parts.append(struct.pack("<I", group_size))
        if groups is not None:
            parts.append(struct.pack("<I%dIB" % len(groups), len(groups), *groups, aggregate))
    return b"".join(parts)


def duplicates_request(collection: str, min_score: float, cursor: int, max_pairs: int, filter: Any = None,
                       end: bool = False) -> bytes:
    """A DUPLICATES request: cursor 0 starts a sweep (with ``min_score`` and ``filter``), another reads
    its next page, or ends it with ``end``."""
    flags = (DUPLICATES_FILTER if filter is not None else 0) | (DUPLICATES_END if end else 0)
    out = string(collection) + struct.pack("<fQIB", min_score, cursor, max_pairs, flags)
    return out + filter_node(filter) if filter is not None else out


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
class CollectionDescription:
    """A collection as DESCRIBE_COLLECTION describes it: ``attributes`` maps each name to its type
    (``"bool"``, ``"int64"``, ``"float64"``, ``"keyword"``), in declaration order."""

    name: str
    dimension: int
    metric: str
    count: int
    attributes: dict = field(default_factory=dict)


ATTRIBUTE_TYPE_NAMES = {v: k for k, v in ATTRIBUTE_TYPES.items()}


def decode_description(payload: bytes) -> CollectionDescription:
    r = Reader(payload)
    name = r.string()
    dimension, metric, count = r.unpack("IBQ")
    attributes = {}
    for _ in range(r.u8()):
        kind = r.u8()
        attributes[r.string()] = ATTRIBUTE_TYPE_NAMES.get(kind, str(kind))
    r.end("DESCRIBE_COLLECTION reply")
    return CollectionDescription(name, dimension, METRIC_NAMES.get(metric, str(metric)), count, attributes)


def encode_description(d: CollectionDescription) -> bytes:
    return (string(d.name) + struct.pack("<IBQB", d.dimension, METRICS[d.metric], d.count, len(d.attributes))
            + b"".join(attribute_definition(n, t) for n, t in d.attributes.items()))


@dataclass
class StoredVector:
    """A row as GET returns it."""

    id: int
    label: int
    vector: Optional[np.ndarray]
    payload: Optional[bytes]
    attributes: dict = field(default_factory=dict)


@dataclass
class Hit:
    id: int
    label: int
    score: float
    payload: Optional[bytes] = None
    vector: Optional[np.ndarray] = None
    attributes: Optional[dict] = None


@dataclass
class CollectionStats:
    """One collection in STATS: its size, how its searches read the vectors (``scan``:
    ``"float32"`` or ``"int8"``, with the memory its codes take and the rows bounded and rescored),
    and, on a server following PostgreSQL's change log, its place there (``log_position``) and the
    changes it has not applied yet (``pending_changes``, the oldest ``lag_ms`` old).
    ``memory_bytes`` is the server's own memory; ``mapped_bytes`` the rows mapped from the data
    directory's segment files and ``disk_bytes`` those files' size (protocol revision 4: ``None``
    from a server that was not asked for them)."""

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
    following: bool = False
    log_position: int = 0
    pending_changes: int = 0
    lag_ms: int = 0
    mapped_bytes: Optional[int] = None
    disk_bytes: Optional[int] = None


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
        attributes = read_values(r) if flags & GET_ATTRIBUTES else {}
        rows.append(StoredVector(row_id, label, vector, payload_bytes, attributes))
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
        if flags & GET_ATTRIBUTES:
            parts.append(values(row.attributes))
    return b"".join(parts)


def decode_search_columns(payload: bytes) -> Tuple[int, int, List[Any], Optional[List[bool]]]:
    """The hits of every query, cheaply: without payloads, one numpy record array per query (fields
    ``id``, ``label``, ``score`` and, with vectors, ``vector``) read in one go; with payloads (variable
    length), a list of :class:`Hit`. The last item is, for a range search's reply (flags bit 3), one
    mark per query: whether the server's limit cut its hits; None otherwise."""
    r = Reader(payload)
    flags, dimension, nq = r.unpack("BII")
    truncated: Optional[List[bool]] = [] if flags & HAS_MIN_SCORE else None
    with_payloads, with_vectors = bool(flags & WITH_PAYLOADS), bool(flags & WITH_VECTORS)
    with_attributes = bool(flags & WITH_ATTRIBUTES)
    fixed = np.dtype([("id", "<i8"), ("label", "<i8"), ("score", "<f4")] + ([("vector", "<f4", (dimension,))] if with_vectors else []))
    results: List[Any] = []
    for _ in range(nq):
        hits = r.u32()
        if not with_payloads and not with_attributes:
            results.append(np.frombuffer(r.take(hits * fixed.itemsize), dtype=fixed))
        else:
            row = []
            for _ in range(hits):
                hit_id, label, score = r.unpack("qqf")
                payload_bytes = r.optional_bytes() if with_payloads else None
                vector = r.array("<f4", dimension) if with_vectors else None
                attributes = read_values(r) if with_attributes else None
                row.append(Hit(hit_id, label, score, payload_bytes, vector, attributes))
            results.append(row)
        if truncated is not None:
            cut = r.u8()
            if cut > 1:
                raise DecodeError("SEARCH reply: truncated must be 0 or 1, got %d" % cut)
            truncated.append(bool(cut))
    r.end("SEARCH reply")
    return flags, dimension, results, truncated


def hits_of(column: Any) -> List[Hit]:
    """One query's hits as :class:`Hit` objects, from either form :func:`decode_search_columns` gives."""
    if isinstance(column, list):
        return column
    with_vectors = "vector" in (column.dtype.names or ())
    return [Hit(int(x["id"]), int(x["label"]), float(x["score"]), None, np.array(x["vector"]) if with_vectors else None)
            for x in column]


def decode_search_reply(payload: bytes) -> Tuple[int, int, List[List[Hit]], Optional[List[bool]]]:
    """The hits of every query as :class:`Hit` objects, and a range reply's truncation marks."""
    flags, dimension, columns, truncated = decode_search_columns(payload)
    return flags, dimension, [hits_of(c) for c in columns], truncated


def encode_search_reply(flags: int, dimension: int, results: Sequence[Sequence[Hit]],
                        truncated: Optional[Sequence[bool]] = None) -> bytes:
    parts = [struct.pack("<BII", flags, dimension, len(results))]
    for q, hits in enumerate(results):
        parts.append(struct.pack("<I", len(hits)))
        for h in hits:
            parts.append(struct.pack("<qqf", h.id, h.label, h.score))
            if flags & WITH_PAYLOADS:
                parts.append(optional_bytes(h.payload))
            if flags & WITH_VECTORS:
                parts.append(np.ascontiguousarray(h.vector, dtype="<f4").tobytes())
            if flags & WITH_ATTRIBUTES:
                parts.append(values(h.attributes))
        if flags & HAS_MIN_SCORE:
            parts.append(struct.pack("<B", 1 if truncated is not None and truncated[q] else 0))
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
        following, position, pending, lag = r.unpack("BQQQ")
        if following > 1:
            raise DecodeError("STATS reply: following must be 0 or 1, got %d" % following)
        stats.collections.append(CollectionStats(
            name, dimension, METRIC_NAMES.get(metric, str(metric)), count, memory, skipped,
            SCAN_NAMES.get(scan, str(scan)), code_bytes, bounded, rescored, bool(following), position, pending, lag,
        ))
    for _ in range(r.u32()):
        stats.operations.append(OperationStats(*r.unpack("BQQQQQQ")))
    if r.remaining():  # revision 4, when asked: each collection's mapped and on-disk bytes
        for c in stats.collections:
            c.mapped_bytes, c.disk_bytes = r.unpack("QQ")
    r.end("STATS reply")
    return stats


def encode_stats(s: Stats) -> bytes:
    parts = [struct.pack("<Q", s.uptime_ms), string(s.blas_library), string(s.blas_kernel),
             struct.pack("<IQI", s.open_connections, s.total_connections, len(s.collections))]
    for c in s.collections:
        parts.append(string(c.name) + struct.pack(
            "<IBQQQBQQQBQQQ", c.dimension, METRICS[c.metric], c.count, c.memory_bytes, c.skipped_rows,
            SCANS[c.scan], c.code_bytes, c.rows_bounded, c.rows_rescored,
            int(c.following), c.log_position, c.pending_changes, c.lag_ms,
        ))
    parts.append(struct.pack("<I", len(s.operations)))
    for o in s.operations:
        parts.append(struct.pack("<BQQQQQQ", o.opcode, o.requests, o.errors, o.p50_us, o.p90_us, o.p99_us, o.max_us))
    if s.collections and all(c.mapped_bytes is not None and c.disk_bytes is not None for c in s.collections):
        for c in s.collections:
            parts.append(struct.pack("<QQ", c.mapped_bytes, c.disk_bytes))
    return b"".join(parts)


def decode_error(payload: bytes) -> Tuple[int, str]:
    r = Reader(payload)
    code = r.u16()
    message = r.string()
    r.end("error")
    return code, message


PAIR = np.dtype([("a", "<i8"), ("b", "<i8"), ("score", "<f4")])


@dataclass
class DuplicatePage:
    """One page of a near-duplicate sweep: ``pairs`` (a structured array of ``a``, ``b``, ``score``;
    ``a < b``), the cursor of the next page (0 once the sweep has ended) and the progress."""
    cursor: int
    rows_done: int
    rows_total: int
    truncated_rows: int
    pairs: np.ndarray

    @property
    def finished(self) -> bool:
        return self.cursor == 0


def decode_duplicates_reply(payload: bytes) -> DuplicatePage:
    r = Reader(payload)
    cursor, done, total, truncated, n = r.unpack("QQQQI")
    raw = r.take(n * PAIR.itemsize)
    pairs = np.frombuffer(raw, dtype=PAIR).copy()
    r.end("DUPLICATES reply")
    if n and not bool(np.all(pairs["a"] < pairs["b"])):
        raise DecodeError("a DUPLICATES pair is not in ascending order")
    return DuplicatePage(cursor, done, total, truncated, pairs)


def encode_duplicates_reply(page: DuplicatePage) -> bytes:
    return struct.pack("<QQQQI", page.cursor, page.rows_done, page.rows_total, page.truncated_rows,
                       len(page.pairs)) + np.ascontiguousarray(page.pairs, dtype=PAIR).tobytes()
