"""FlatVec's Python client: ``Client`` (blocking, thread-safe) and ``AsyncClient`` (asyncio)."""
from ._codec import CollectionDescription, CollectionInfo, CollectionStats, DuplicatePage, Hit, OperationStats, Stats, StoredVector
from ._requests import SearchResult, decode_payload, quote
from .aio import AsyncClient
from .client import Client
from .errors import *  # noqa: F401,F403  (one class per error code)
from .errors import ConnectionLost, FlatVecError, error_for, outcome_unknown

__all__ = [
    "AsyncClient", "Client", "CollectionDescription", "CollectionInfo", "CollectionStats", "ConnectionLost", "DuplicatePage",
    "FlatVecError", "Hit",
    "OperationStats", "SearchResult", "Stats", "StoredVector", "decode_payload", "error_for", "outcome_unknown", "quote",
]
__version__ = "0.1.0"
