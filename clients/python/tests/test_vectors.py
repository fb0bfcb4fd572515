"""Every frame in proto-spec/vectors/ decoded and re-encoded byte for byte by the Python codec."""
from __future__ import annotations

import glob
import os
import struct

import numpy as np
import pytest

from flatvec import _codec as codec

VECTORS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "proto-spec", "vectors")


def load(path: str) -> bytes:
    with open(path) as f:
        return bytes.fromhex("".join(line for line in f if not line.startswith("#")))


def reencode_request(opcode: int, payload: bytes) -> bytes:
    r = codec.Reader(payload)
    if opcode == codec.HELLO:
        lo, hi = r.unpack("HH")
        out = codec.hello_request(r.string(), r.string(), lo, hi)
    elif opcode in (codec.PING,):
        out = bytes(r.take(len(payload)))
    elif opcode == codec.CREATE:
        name = r.string()
        dimension, metric = r.unpack("IB")
        attributes = []
        if r.offset < len(payload):
            types = {v: k for k, v in codec.ATTRIBUTE_TYPES.items()}
            for _ in range(r.u8()):
                kind = r.u8()
                attributes.append((r.string(), types[kind]))
        out = codec.create_request(name, dimension, metric, attributes)
    elif opcode == codec.ADD_ATTRIBUTE:
        collection = r.string()
        kind = r.u8()
        out = codec.string(collection) + codec.attribute_definition(r.string(), {v: k for k, v in codec.ATTRIBUTE_TYPES.items()}[kind])
    elif opcode == codec.DROP_ATTRIBUTE:
        out = codec.string(r.string()) + codec.string(r.string())
    elif opcode == codec.UPDATE:
        collection = r.string()
        updates = []
        for _ in range(r.u32()):
            (row_id, flags) = r.unpack("qB")
            u: dict = {"id": row_id}
            if flags & 1:
                u["label"] = r.unpack("q")[0]
            if flags & 2:
                u["payload"] = r.optional_bytes()
            if flags & 4:
                u["payload"] = None
            u["set"] = codec.read_values(r)
            u["clear"] = [r.string() for _ in range(r.u8())]
            updates.append(u)
        out = codec.update_request(collection, updates)
    elif opcode in (codec.DROP, codec.REBUILD, codec.DESCRIBE):
        out = codec.string(r.string())
    elif opcode == codec.LIST:
        out = b""
    elif opcode == codec.STATS:
        out = bytes([r.u8()]) if r.remaining() else b""
    elif opcode == codec.ADD:
        collection = r.string()
        n, d, flags = r.unpack("IIB")
        ids, labels = r.array("<i8", n), r.array("<i8", n)
        vectors = r.array("<f4", n * d).reshape(n, d)
        payloads = [r.optional_bytes() for _ in range(n)] if flags & 1 else None
        attributes = [codec.read_values(r) for _ in range(n)] if flags & codec.ADD_ATTRIBUTES else None
        reject = r.f32() if flags & codec.ADD_REJECT_DUPLICATES else None
        out = codec.add_request(collection, ids, labels, vectors, payloads, attributes, reject)
    elif opcode == codec.REMOVE:
        collection = r.string()
        out = codec.ids_request(collection, r.array("<i8", r.u32()))
    elif opcode == codec.GET:
        collection = r.string()
        flags, n = r.unpack("BI")
        out = codec.get_request(collection, r.array("<i8", n), bool(flags & 1), bool(flags & 2), bool(flags & 4))
    elif opcode == codec.SEARCH:
        collection = r.string()
        k, flags, min_score = r.unpack("IBf")
        labels = r.array("<i8", r.u32())
        nq = r.u32()
        queries, stored, exclude = None, None, True
        if flags & codec.BY_STORED_IDS:
            exclude = r.u8() == 1
            stored = r.array("<i8", nq)
        else:
            d = r.u32()
            queries = r.array("<f4", nq * d).reshape(nq, d)
        filters, shared = None, None
        if flags & codec.HAS_FILTERS:
            mode = r.u8()
            if mode == 1:
                shared = codec.read_filter(r)
            else:
                filters = []
                for _ in range(nq):
                    if payload[r.offset] == 0:
                        r.u8()
                        filters.append(None)
                    else:
                        filters.append(codec.read_filter(r))
        group_size, groups, aggregate = 1, None, codec.AGGREGATE_MAX
        if r.offset < len(payload):
            extensions = r.u8()
            if extensions & codec.EXT_GROUP_SIZE:
                group_size = r.u32()
            if extensions & codec.EXT_QUERY_GROUPS:
                groups = [r.u32() for _ in range(r.u32())]
                aggregate = r.u8()
        out = codec.search_request(
            collection, k, queries, min_score if flags & codec.HAS_MIN_SCORE else None,
            list(labels) if flags & codec.HAS_LABELS else None, bool(flags & codec.GROUP_BY_LABEL),
            bool(flags & codec.WITH_PAYLOADS), bool(flags & codec.WITH_VECTORS), filters, shared,
            bool(flags & codec.WITH_ATTRIBUTES), stored, exclude, group_size, groups, aggregate)
    elif opcode == BACKUP:
        out = struct.pack("<QIB", *r.unpack("QIB"))
    elif opcode == codec.DUPLICATES:
        collection = r.string()
        min_score, cursor, max_pairs, flags = r.unpack("fQIB")
        found = codec.read_filter(r) if flags & codec.DUPLICATES_FILTER else None
        out = codec.duplicates_request(collection, min_score, cursor, max_pairs, found, bool(flags & codec.DUPLICATES_END))
    else:
        raise AssertionError("unknown request opcode %d" % opcode)
    r.offset = len(payload)
    return out


def reencode_reply(opcode: int, flags: int, payload: bytes) -> bytes:
    if flags & codec.FLAG_ERROR:
        code, message = codec.decode_error(payload)
        return struct.pack("<H", code) + codec.string(message)
    if opcode == codec.HELLO:
        h = codec.decode_hello_reply(payload)
        return struct.pack("<HBIII", h.version, h.role, h.max_frame_bytes, h.max_k, h.max_batch) + codec.string(h.server)
    if opcode == codec.PING:
        return payload
    if opcode in (codec.CREATE, codec.DROP, codec.ADD_ATTRIBUTE, codec.DROP_ATTRIBUTE):
        assert payload == b""
        return b""
    if opcode == codec.UPDATE:
        return struct.pack("<I", codec.Reader(payload).u32())
    if opcode == codec.DESCRIBE:
        return codec.encode_description(codec.decode_description(payload))
    if opcode in (codec.LIST, codec.REBUILD):
        skipped = opcode == codec.REBUILD
        return codec.encode_collections(codec.decode_collections(payload, skipped), skipped)
    if opcode == codec.ADD:
        return struct.pack("<II", *codec.Reader(payload).unpack("II"))
    if opcode == codec.REMOVE:
        return struct.pack("<I", codec.Reader(payload).u32())
    if opcode == codec.GET:
        return codec.encode_get_reply(*codec.decode_get_reply(payload))
    if opcode == codec.SEARCH:
        return codec.encode_search_reply(*codec.decode_search_reply(payload))
    if opcode == BACKUP:
        reader = codec.Reader(payload)
        cursor = reader.u64()
        name = reader.string()
        length, offset = reader.unpack("QQ")
        data = bytes(reader.take(reader.u32()))
        return struct.pack("<Q", cursor) + codec.string(name) + struct.pack("<QQI", length, offset, len(data)) + data
    if opcode == codec.DUPLICATES:
        return codec.encode_duplicates_reply(codec.decode_duplicates_reply(payload))
    if opcode == codec.STATS:
        return codec.encode_stats(codec.decode_stats(payload))
    raise AssertionError("unknown reply opcode %d" % opcode)


FILES = sorted(glob.glob(os.path.join(VECTORS, "*.hex")))
BACKUP = 0x51  # admin tooling (flatvec backup); the Python client does not send it


def test_every_vector_file_is_found() -> None:
    assert len(FILES) >= 39


@pytest.mark.parametrize("path", FILES, ids=[os.path.basename(p) for p in FILES])
def test_vector_decodes_and_reencodes_byte_for_byte(path: str) -> None:
    data = load(path)
    frame, used = codec.split_frame(data)
    assert frame is not None and used == len(data)
    if frame.flags & codec.FLAG_REPLY:
        payload = reencode_reply(frame.opcode, frame.flags, frame.payload)
    else:
        payload = reencode_request(frame.opcode, frame.payload)
    assert codec.frame(frame.opcode, frame.request_id, payload, frame.flags) == data


def test_search_reply_without_payloads_reads_records_in_one_go() -> None:
    hits = [[codec.Hit(7, 1, 0.5, None, np.array([1, 2], dtype=np.float32))], []]
    flags, dimension, decoded, truncated = codec.decode_search_reply(codec.encode_search_reply(codec.WITH_VECTORS, 2, hits))
    assert truncated is None
    assert decoded[0][0].id == 7 and decoded[0][0].vector.tolist() == [1.0, 2.0] and decoded[1] == []
