"""The seeds' design, as the anchor: FAISS IndexFlatIP behind an asyncio reader/writer lock (aiorwlock)
in a FastAPI app, answering the same JSON as examples/checkout-service.

    FAISS_CATALOGUE=vectors.npy LABELS=labels.npy uvicorn seeds_service:app --port 8001
"""
from __future__ import annotations

import os
from typing import Any, Dict, List

import aiorwlock
import faiss
import numpy as np
from fastapi import FastAPI
from pydantic import BaseModel

vectors = np.load(os.environ["FAISS_CATALOGUE"]).astype(np.float32)
labels = np.load(os.environ["LABELS"]).astype(np.int64)
index = faiss.IndexFlatIP(vectors.shape[1])
index.add(vectors)
lock = aiorwlock.RWLock()
app = FastAPI(title="seeds checkout (FAISS + aiorwlock)")


class IdentifyRequest(BaseModel):
    embedding: List[float]
    k: int = 1


@app.post("/checkout/identify")
async def identify(request: IdentifyRequest) -> Dict[str, Any]:
    query = np.asarray(request.embedding, dtype=np.float32)[np.newaxis, :]
    async with lock.reader_lock:
        scores, ids = index.search(query, request.k)
    return {"hits": [{"id": int(i), "label": int(labels[i]), "score": float(s), "payload": None}
                     for i, s in zip(ids[0], scores[0]) if i >= 0]}


@app.get("/healthz")
async def healthz() -> Dict[str, str]:
    return {"status": "ok"}
