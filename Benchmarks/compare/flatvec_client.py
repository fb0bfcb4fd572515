"""A minimal FlatVec client written from proto-spec/PROTOCOL.md alone (standard library only)."""
import socket
import struct


class FlatVecError(Exception):
    def __init__(self, code, message):
        super().__init__("%d: %s" % (code, message))
        self.code = code


def _string(s):
    b = s.encode("utf-8")
    return struct.pack("<I", len(b)) + b


class Client:
    HELLO, PING, CREATE, DROP, LIST, ADD, REMOVE, GET, SEARCH, STATS = 0x01, 0x02, 0x10, 0x11, 0x12, 0x20, 0x21, 0x22, 0x30, 0x40

    def __init__(self, host="127.0.0.1", port=7070, token=""):
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.next_id = 1
        payload = struct.pack("<HH", 1, 1) + _string(token) + _string("flatvec-python")
        reply = self.call(self.HELLO, payload)
        self.version, self.role = struct.unpack_from("<HB", reply, 0)

    def _recv_exactly(self, n):
        chunks = []
        while n:
            chunk = self.sock.recv(min(n, 1 << 20))
            if not chunk:
                raise ConnectionError("server closed the connection")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def call(self, opcode, payload=b""):
        request_id = self.next_id
        self.next_id += 1
        self.sock.sendall(struct.pack("<IBBHQ", 12 + len(payload), 1, opcode, 0, request_id) + payload)
        (length,) = struct.unpack("<I", self._recv_exactly(4))
        frame = self._recv_exactly(length)
        _version, _opcode, flags, reply_id = struct.unpack_from("<BBHQ", frame, 0)
        body = frame[12:]
        if flags & 2:
            code, n = struct.unpack_from("<HI", body, 0)
            raise FlatVecError(code, body[6:6 + n].decode("utf-8"))
        assert reply_id == request_id, "replies come in request order"
        return body

    def create_collection(self, name, dimension, metric=0):
        self.call(self.CREATE, _string(name) + struct.pack("<IB", dimension, metric))

    def add(self, name, ids, labels, vectors):
        """ids, labels: int64 numpy arrays; vectors: float32 (n, d) C-order numpy array."""
        n, d = vectors.shape
        payload = _string(name) + struct.pack("<IIB", n, d, 0) + ids.astype("<i8").tobytes() + labels.astype("<i8").tobytes() + vectors.astype("<f4").tobytes()
        inserted, replaced = struct.unpack("<II", self.call(self.ADD, payload))
        return inserted, replaced

    def search(self, name, queries, k):
        """queries: float32 (nq, d). Returns (ids, scores) as lists of lists, best first."""
        nq, d = queries.shape
        payload = _string(name) + struct.pack("<IBfI", k, 0, 0.0, 0) + struct.pack("<II", nq, d) + queries.astype("<f4").tobytes()
        body = self.call(self.SEARCH, payload)
        _flags, _dim, count = struct.unpack_from("<BII", body, 0)
        offset = 9
        ids, scores = [], []
        for _ in range(count):
            (hits,) = struct.unpack_from("<I", body, offset)
            offset += 4
            row_ids, row_scores = [], []
            for _ in range(hits):
                i, _label, s = struct.unpack_from("<qqf", body, offset)
                offset += 20
                row_ids.append(i)
                row_scores.append(s)
            ids.append(row_ids)
            scores.append(row_scores)
        return ids, scores

    def close(self):
        self.sock.close()
