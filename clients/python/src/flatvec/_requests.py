"""What each operation sends and how its reply is read: shared by Client and AsyncClient.

Each builder checks its arguments and returns an :class:`Operation`: the opcode, the payload, whether
it is safe to send again after a lost connection (reads are, writes are not), and the function that
turns the reply payload into the result.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _codec as codec
from .errors import DimensionMismatch, InvalidArgument, InvalidVector

Payload = Union[None, str, bytes, dict, list]


@dataclass
class Operation:
    opcode: int
    payload: bytes
    retry_safe: bool
    decode: Callable[[bytes], Any]


class SearchResult:
    """Hits of a search, FAISS style: ``ids`` (int64, (nq, k), padded with -1), ``scores`` (float32,
    padded with -inf) and ``labels`` (int64, padded with -1); ``hits[q]`` lists query q's hits with
    their payloads and vectors (made on first use). For a range search (``k="all"``) the arrays are as
    wide as the longest list, and ``truncated`` (bool, (nq,)) says which lists the server's limit cut;
    it is None for a top-k search."""

    def __init__(self, k: Optional[int], columns: List[Any], truncated: Optional[List[bool]] = None) -> None:
        nq = len(columns)
        if k is None:
            k = max((len(c) for c in columns), default=0)
        self.truncated = np.array(truncated, dtype=bool) if truncated is not None else None
        self._columns = columns
        self._hits: Optional[List[List[codec.Hit]]] = None
        self.ids = np.full((nq, k), -1, dtype=np.int64)
        self.labels = np.full((nq, k), -1, dtype=np.int64)
        self.scores = np.full((nq, k), -np.inf, dtype=np.float32)
        for q, column in enumerate(columns):
            n = len(column)
            if not n:
                continue
            if isinstance(column, list):
                self.ids[q, :n] = [h.id for h in column]
                self.labels[q, :n] = [h.label for h in column]
                self.scores[q, :n] = [h.score for h in column]
            else:
                self.ids[q, :n] = column["id"]
                self.labels[q, :n] = column["label"]
                self.scores[q, :n] = column["score"]

    @property
    def hits(self) -> List[List[codec.Hit]]:
        if self._hits is None:
            self._hits = [codec.hits_of(c) for c in self._columns]
        return self._hits

    def __len__(self) -> int:
        return len(self._columns)

    def __repr__(self) -> str:
        return "SearchResult(nq=%d, k=%d)" % self.ids.shape


def decode_payload(payload: Optional[bytes]) -> Payload:
    """A stored payload as Python: a JSON value when it is JSON, else the text."""
    if payload is None:
        return None
    text = payload.decode("utf-8")
    try:
        return json.loads(text)
    except ValueError:
        return text


def encode_payload(value: Payload) -> Optional[bytes]:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":")).encode("utf-8")
    raise InvalidArgument("a payload must be str, bytes, dict, list or None, not %s" % type(value).__name__)


def matrix(values: Any, what: str) -> np.ndarray:
    """``values`` as a C-contiguous little-endian float32 (n, d) array, checked for NaN and infinity."""
    array = np.asarray(values)
    if array.dtype.kind not in "fiu":
        raise InvalidArgument("%s must be real numbers, got dtype %s" % (what, array.dtype))
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2 or array.shape[1] == 0:
        raise DimensionMismatch("%s must have shape (d,) or (n, d), got %s" % (what, np.shape(values)))
    array = np.ascontiguousarray(array, dtype="<f4")
    finite = np.isfinite(array)
    if not finite.all():
        row = int(np.argwhere(~finite)[0][0])
        raise InvalidVector("%s row %d has a NaN or infinite component (after conversion to float32)" % (what, row))
    return array


def id_array(values: Any) -> np.ndarray:
    """Any sequence or array of integers as a flat little-endian int64 array."""
    return np.ascontiguousarray(np.asarray(values if isinstance(values, np.ndarray) else list(values), dtype=np.int64).reshape(-1), dtype="<i8")


def integers(values: Any, count: int, what: str) -> np.ndarray:
    array = id_array(values)
    if len(array) != count:
        raise InvalidArgument("%d %s for %d vectors" % (len(array), what, count))
    return array


def token_from(token: Optional[str]) -> str:
    return token if token is not None else os.environ.get("FLATVEC_TOKEN", "")


def parse_address(address: str) -> Tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise InvalidArgument("address must be host:port with a port from 1 to 65535, got %r" % address)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise InvalidArgument("address %r has no host" % address)
    return host, int(port)


def hello(token: str, client_name: str) -> Operation:
    return Operation(codec.HELLO, codec.hello_request(token, client_name), True, codec.decode_hello_reply)


def ping(data: bytes = b"") -> Operation:
    return Operation(codec.PING, bytes(data), True, bytes)


def attribute_list(attributes: Any) -> List[Tuple[str, str]]:
    """``{"category": "keyword", ...}`` or ``[("category", "keyword"), ...]`` as checked pairs."""
    pairs = list(attributes.items()) if isinstance(attributes, dict) else [tuple(a) for a in (attributes or ())]
    for name, type_name in pairs:
        if type_name not in codec.ATTRIBUTE_TYPES:
            raise InvalidArgument("attribute %r has unknown type %r (bool, int64, float64 or keyword)" % (name, type_name))
    return pairs  # type: ignore[return-value]


def quote(text: str) -> str:
    """``text`` as a string literal of the filter grammar: ``quote('it"s')`` is ``"it\\"s"``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def create_collection(name: str, dimension: int, metric: str, attributes: Any = None) -> Operation:
    if metric not in codec.METRICS:
        raise InvalidArgument("metric must be 'ip' or 'cosine', got %r" % metric)
    payload = codec.create_request(name, int(dimension), codec.METRICS[metric], attribute_list(attributes))
    return Operation(codec.CREATE, payload, False, lambda _: None)


def add_attribute(collection: str, name: str, type_name: str) -> Operation:
    (pair,) = attribute_list([(name, type_name)])
    return Operation(codec.ADD_ATTRIBUTE, codec.string(collection) + codec.attribute_definition(*pair), False, lambda _: None)


def drop_attribute(collection: str, name: str) -> Operation:
    return Operation(codec.DROP_ATTRIBUTE, codec.string(collection) + codec.string(name), False, lambda _: None)


def update(collection: str, updates: Sequence[dict]) -> Operation:
    """Each update: ``{"id": 5, "label": 3, "payload": {...} or None (clear), "set": {...}, "clear": [...]}``;
    keys left out stay as they are."""
    encoded = []
    for u in updates:
        if "id" not in u:
            raise InvalidArgument("every update needs an 'id'")
        unknown = set(u) - {"id", "label", "payload", "set", "clear"}
        if unknown:
            raise InvalidArgument("unknown update keys %s" % sorted(unknown))
        item = dict(u)
        if "payload" in u and u["payload"] is not None:
            item["payload"] = encode_payload(u["payload"])
        encoded.append(item)
    try:
        payload = codec.update_request(collection, encoded)
    except TypeError as error:
        raise InvalidArgument(str(error)) from None
    return Operation(codec.UPDATE, payload, False, lambda p: codec.Reader(p).u32())


def describe_collection(name: str) -> Operation:
    return Operation(codec.DESCRIBE, codec.string(name), True, codec.decode_description)


def drop_collection(name: str) -> Operation:
    return Operation(codec.DROP, codec.string(name), False, lambda _: None)


def list_collections() -> Operation:
    return Operation(codec.LIST, b"", True, lambda p: codec.decode_collections(p, with_skipped=False))


def add(collection: str, ids: Any, vectors: Any, labels: Any = None,
        payloads: Optional[Sequence[Payload]] = None, attributes: Optional[Sequence[Optional[dict]]] = None,
        reject_duplicates_above: Optional[float] = None) -> Operation:
    rows = matrix(vectors, "vectors")
    if reject_duplicates_above is not None and not math.isfinite(reject_duplicates_above):
        raise InvalidArgument("reject_duplicates_above must be finite, got %r" % (reject_duplicates_above,))
    n = rows.shape[0]
    id_array = integers(ids, n, "ids")
    label_array = integers(labels if labels is not None else np.zeros(n, dtype=np.int64), n, "labels")
    encoded = None
    if payloads is not None:
        encoded = [encode_payload(p) for p in payloads]
        if len(encoded) != n:
            raise InvalidArgument("%d payloads for %d vectors" % (len(encoded), n))
    if attributes is not None and len(attributes) != n:
        raise InvalidArgument("%d attribute dicts for %d vectors" % (len(attributes), n))
    try:
        payload = codec.add_request(collection, id_array, label_array, rows, encoded, attributes, reject_duplicates_above)
    except TypeError as error:
        raise InvalidArgument(str(error)) from None
    return Operation(codec.ADD, payload, False, lambda p: codec.Reader(p).unpack("II"))


def remove(collection: str, ids: Iterable[int]) -> Operation:
    return Operation(codec.REMOVE, codec.ids_request(collection, id_array(ids)), False, lambda p: codec.Reader(p).u32())


def get(collection: str, ids: Iterable[int], with_vectors: bool = True, with_payloads: bool = True,
        with_attributes: bool = True) -> Operation:
    return Operation(codec.GET, codec.get_request(collection, id_array(ids), with_vectors, with_payloads, with_attributes), True,
                     lambda p: codec.decode_get_reply(p)[2])


def search(collection: str, queries: Any, k: Union[int, str] = 10, min_score: Optional[float] = None,
           labels: Optional[Iterable[int]] = None, group_by_label: bool = False, with_payloads: bool = False,
           with_vectors: bool = False, filter: Any = None, filters: Optional[Sequence[Any]] = None,
           with_attributes: bool = False, stored_ids: Any = None, exclude_self: bool = True, group_size: int = 1,
           vectors_per_query: Optional[int] = None, query_groups: Optional[Sequence[int]] = None,
           aggregate: str = "max") -> Operation:
    rows = matrix(queries, "queries") if stored_ids is None else None
    # k="all": a range search, every hit scoring at least min_score (k = 0 on the wire).
    wire_k = 0 if k == "all" else k
    if k == "all":
        if min_score is None:
            raise InvalidArgument("k='all' (a range search) needs min_score")
    elif isinstance(k, str) or not 1 <= int(k) <= 10_000:
        raise InvalidArgument("k must be from 1 to 10000, or 'all', got %r" % (k,))
    if min_score is not None and not math.isfinite(min_score):
        raise InvalidArgument("min_score must be finite, got %r" % min_score)
    if filter is not None and filters is not None:
        raise InvalidArgument("give filter (one for all queries) or filters (one per query), not both")
    stored = id_array(stored_ids) if stored_ids is not None else None
    nq = len(stored) if stored is not None else rows.shape[0]  # type: ignore[union-attr]
    if filters is not None and len(filters) != nq:
        raise InvalidArgument("%d filters for %d queries" % (len(filters), nq))
    label_list = [int(x) for x in labels] if labels is not None else None
    if not 1 <= int(group_size) <= 1000:
        raise InvalidArgument("group_size must be from 1 to 1000, got %r" % (group_size,))
    if group_size > 1 and not group_by_label:
        raise InvalidArgument("group_size needs group_by_label=True (it counts hits per label)")
    if aggregate not in codec.AGGREGATES:
        raise InvalidArgument("aggregate must be 'max' or 'mean', got %r" % (aggregate,))
    if vectors_per_query is not None and query_groups is not None:
        raise InvalidArgument("give vectors_per_query or query_groups, not both")
    groups = [int(x) for x in query_groups] if query_groups is not None else None
    if vectors_per_query is not None:
        if int(vectors_per_query) < 1 or nq % int(vectors_per_query):
            raise InvalidArgument("%d query vectors do not make groups of %r" % (nq, vectors_per_query))
        groups = [int(vectors_per_query)] * (nq // int(vectors_per_query))
    if groups is not None and (sum(groups) != nq or min(groups, default=1) < 1):
        raise InvalidArgument("query_groups %r do not split %d query vectors" % (groups, nq))
    payload = codec.search_request(collection, int(wire_k), rows, min_score, label_list, group_by_label, with_payloads,
                                   with_vectors, filters, filter, with_attributes, stored, exclude_self, int(group_size),
                                   groups, codec.AGGREGATES[aggregate])
    width = None if wire_k == 0 or group_size > 1 else int(wire_k)
    return Operation(codec.SEARCH, payload, True, lambda p: SearchResult(width, *codec.decode_search_columns(p)[2:]))


def duplicates(collection: str, min_score: float, cursor: int = 0, page_size: int = 100_000, filter: Any = None,
               end: bool = False) -> Operation:
    if not math.isfinite(min_score):
        raise InvalidArgument("min_score must be finite, got %r" % (min_score,))
    if not 1 <= int(page_size) <= 1_000_000:
        raise InvalidArgument("page_size must be from 1 to 1000000, got %r" % (page_size,))
    payload = codec.duplicates_request(collection, float(min_score), int(cursor), int(page_size), filter, end)
    # Reading a page moves the sweep on: after a lost connection its pairs may be gone, so only a
    # request that starts a sweep is sent again.
    return Operation(codec.DUPLICATES, payload, cursor == 0 and not end, codec.decode_duplicates_reply)


def joined_pages(pages: List[codec.DuplicatePage]) -> codec.DuplicatePage:
    """Every pair of a finished sweep in one page (the last page's progress)."""
    last = pages[-1]
    pairs = np.concatenate([p.pairs for p in pages]) if pages else np.zeros(0, dtype=codec.PAIR)
    return codec.DuplicatePage(0, last.rows_done, last.rows_total, last.truncated_rows, pairs)


def stats() -> Operation:
    return Operation(codec.STATS, bytes([codec.STATS_STORAGE]), True, codec.decode_stats)


def rebuild(collection: str = "") -> Operation:
    return Operation(codec.REBUILD, codec.string(collection), False, lambda p: codec.decode_collections(p, with_skipped=True))
