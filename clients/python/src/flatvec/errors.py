"""One exception class per FlatVec error code (proto-spec/PROTOCOL.md section 5)."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Type


class FlatVecError(Exception):
    """An error reply from the server: ``code`` is the stable number, ``name`` its name."""

    code: int = 12
    name: str = "internal"

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return "%s: %s" % (self.name, self.message)


class ConnectionLost(FlatVecError):
    """The connection closed or failed before a reply came; for a write, its outcome is unknown."""

    code = 0
    name = "connection_lost"


def _error(class_name: str, code: int, name: str, doc: str) -> Type[FlatVecError]:
    return type(class_name, (FlatVecError,), {"code": code, "name": name, "__doc__": doc})


BadFrame = _error("BadFrame", 1, "bad_frame", "A frame could not be decoded.")
UnsupportedVersion = _error("UnsupportedVersion", 2, "unsupported_version", "No common protocol version.")
Unauthenticated = _error("Unauthenticated", 3, "unauthenticated", "No role yet, or a wrong token.")
Forbidden = _error("Forbidden", 4, "forbidden", "The role may not do this.")
UnknownCollection = _error("UnknownCollection", 5, "unknown_collection", "No collection of that name.")
CollectionExists = _error("CollectionExists", 6, "collection_exists", "A collection of that name exists.")
DimensionMismatch = _error("DimensionMismatch", 7, "dimension_mismatch", "Vectors of another dimension.")
InvalidVector = _error("InvalidVector", 8, "invalid_vector", "NaN or infinite component, norm too large, zero under cosine.")
UnknownID = _error("UnknownID", 9, "unknown_id", "Ids that are not stored.")
LimitExceeded = _error("LimitExceeded", 10, "limit_exceeded", "A size or count over its limit.")
Unavailable = _error("Unavailable", 11, "unavailable", "The store failed (nothing changed unless the message says the outcome is unknown), or the server is stopping.")
InternalError = _error("InternalError", 12, "internal", "A bug; also any code this client does not know.")
InvalidArgument = _error("InvalidArgument", 13, "invalid_argument", "A malformed argument.")
DuplicateID = _error("DuplicateID", 14, "duplicate_id", "An id twice in one request.")
CorruptData = _error("CorruptData", 15, "corrupt_data", "Stored data failed its checks.")
IOFailure = _error("IOFailure", 16, "io_error", "A file could not be read or written.")
UnsupportedFeature = _error("UnsupportedFeature", 17, "unsupported_feature", "A reserved bit is set: the server lacks that option.")


class OutcomeUnknown(Unavailable):
    """A write may or may not have been stored (the store's connection died during COMMIT, or a log
    sync failed): retry it. ADD is an upsert; a retried REMOVE may answer :class:`UnknownID`. A
    subclass of :class:`Unavailable`, so code that catches store failures catches it too."""

    code = 18
    name = "outcome_unknown"


class DuplicateVector(FlatVecError):
    """An ADD with ``reject_duplicates_above`` holds vectors scoring at or above it with a stored vector
    or another of the batch; nothing was added. ``duplicates`` lists, per offending new vector, a dict
    ``{"id", "other", "score", "stored"}`` (its best match; ``stored`` False for another new vector)."""

    code = 19
    name = "duplicate_vector"

    @property
    def duplicates(self) -> List[Dict[str, Any]]:
        return [{"id": int(a), "other": int(b), "score": float(s), "stored": kind == "stored"}
                for a, kind, b, s in re.findall(r"id (-?\d+) ~ (stored|new) id (-?\d+) \(([^)]+)\)", str(self))]


_BY_CODE: Dict[int, Type[FlatVecError]] = {
    cls.code: cls
    for cls in [
        BadFrame, UnsupportedVersion, Unauthenticated, Forbidden, UnknownCollection, CollectionExists,
        DimensionMismatch, InvalidVector, UnknownID, LimitExceeded, Unavailable, InternalError,
        InvalidArgument, DuplicateID, CorruptData, IOFailure, UnsupportedFeature, OutcomeUnknown, DuplicateVector,
    ]
}


def error_for(code: int, message: str) -> FlatVecError:
    """The exception for an error reply; an unknown code maps to :class:`InternalError`."""
    return _BY_CODE.get(code, InternalError)(message, code)


def outcome_unknown(error: FlatVecError) -> bool:
    """Whether a write's outcome is unknown: the server said so (:class:`OutcomeUnknown`), or the
    connection was lost before the reply (:class:`ConnectionLost`). Retry it."""
    return isinstance(error, OutcomeUnknown) or isinstance(error, ConnectionLost)
