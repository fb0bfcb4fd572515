"""The checkout lane's "which product is this?" service on FlatVec (instead of FAISS + aiorwlock).

    FLATVEC_ADDRESS=127.0.0.1:7070 uvicorn app:app --port 8000

Configuration (environment): FLATVEC_ADDRESS (host:port, default 127.0.0.1:7070), FLATVEC_COLLECTION
(default products), FLATVEC_TOKEN (the FlatVec token this service holds; admin to add products),
CHECKOUT_ADMIN_KEY (if set, POST /admin/products needs the header `X-Admin-Key` with it).
"""
from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, List, Optional

import numpy as np
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

import flatvec

ADDRESS = os.environ.get("FLATVEC_ADDRESS", "127.0.0.1:7070")
COLLECTION = os.environ.get("FLATVEC_COLLECTION", "products")


class IdentifyRequest(BaseModel):
    embedding: List[float] = Field(..., description="the frame's image embedding (e.g. 512-d CLIP)")
    k: int = Field(1, ge=1, le=100)
    category: Optional[str] = Field(None, description="only products of this category (e.g. the lane's department)")


class BurstRequest(BaseModel):
    embeddings: List[List[float]] = Field(..., min_length=1, max_length=64, description="the frames of one item (a burst)")
    k: int = Field(1, ge=1, le=100)
    aggregate: str = Field("max", pattern="^(max|mean)$", description="max: the best frame decides; mean: every frame counts")
    category: Optional[str] = None


class SimilarRequest(BaseModel):
    embeddings: List[List[float]] = Field(..., min_length=1, max_length=64, description="photos of one returned item")
    k: int = Field(5, ge=1, le=100, description="products to return")
    photos_per_product: int = Field(3, ge=1, le=20, description="the product's most similar photos shown with it")
    duplicate_above: float = Field(0.95, description="stored photos at or above this score count as duplicates")


class ProductImage(BaseModel):
    id: int
    embedding: List[float]
    payload: Optional[Dict[str, Any]] = None


class NewProduct(BaseModel):
    product: int = Field(..., description="the product id (the label of its images)")
    images: List[ProductImage]
    category: Optional[str] = None
    visible: bool = Field(True, description="whether checkout lanes may match it yet (publish later with /admin/visibility)")


class Visibility(BaseModel):
    images: List[int] = Field(..., description="image ids whose visibility changes")
    visible: bool


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # One pipelined client for the whole service: every request shares its connections.
    app.state.flatvec = await flatvec.AsyncClient.connect(ADDRESS)
    try:
        yield
    finally:
        await app.state.flatvec.close()


app = FastAPI(title="checkout", lifespan=lifespan)

_STATUS = {
    flatvec.UnknownCollection: 404, flatvec.DimensionMismatch: 422, flatvec.InvalidVector: 422,
    flatvec.InvalidArgument: 422, flatvec.LimitExceeded: 422, flatvec.DuplicateID: 422,
    flatvec.Forbidden: 403, flatvec.Unauthenticated: 403, flatvec.Unavailable: 503, flatvec.ConnectionLost: 503,
    flatvec.UnknownID: 404,
}


def http_error(error: flatvec.FlatVecError) -> HTTPException:
    return HTTPException(status_code=_STATUS.get(type(error), 500), detail=str(error))


@app.post("/checkout/identify")
async def identify(request: IdentifyRequest) -> Dict[str, Any]:
    """The k most similar visible product images to the frame's embedding, best first (only the
    lane's category, if given). The filter applies inside FlatVec, before ranking: k hits whenever k
    visible images exist, never fewer because hidden ones ranked higher."""
    try:
        result = await app.state.flatvec.search(
            COLLECTION, np.asarray(request.embedding, dtype=np.float32), k=request.k, with_payloads=True,
            filter=lane_filter(request.category),
        )
    except flatvec.FlatVecError as e:
        raise http_error(e) from e
    return {"hits": [hit_json(h) for h in result.hits[0]]}


def lane_filter(category: Optional[str]) -> str:
    return "visible" + ("" if category is None else " and category = " + flatvec.quote(category))


def hit_json(h: flatvec.Hit) -> Dict[str, Any]:
    return {"id": h.id, "label": h.label, "score": h.score, "payload": flatvec.decode_payload(h.payload)}


@app.post("/checkout/identify-burst")
async def identify_burst(request: BurstRequest) -> Dict[str, Any]:
    """The k most likely products for a burst of frames of one item: one ranking of products over
    all frames (FlatVec query groups, exact), `max` (the best frame decides) or `mean` (every frame
    counts: steadier when single frames are blurred). Each product comes with the image that matched."""
    try:
        result = await app.state.flatvec.search(
            COLLECTION, np.asarray(request.embeddings, dtype=np.float32), k=request.k, group_by_label=True, with_payloads=True,
            filter=lane_filter(request.category), vectors_per_query=len(request.embeddings), aggregate=request.aggregate,
        )
    except flatvec.FlatVecError as e:
        raise http_error(e) from e
    return {"products": [hit_json(h) for h in result.hits[0]]}


@app.post("/inspection/similar")
async def similar(request: SimilarRequest) -> Dict[str, Any]:
    """Inspection of a returned item from its photos: the k most similar products, each with its most
    similar stored photos (group_size), and every stored photo at or above `duplicate_above` against
    any of the item's photos (a range search: near-duplicates, not just the best few)."""
    photos = np.asarray(request.embeddings, dtype=np.float32)
    try:
        products = await app.state.flatvec.search(
            COLLECTION, photos, k=request.k, group_by_label=True, group_size=request.photos_per_product, with_payloads=True,
            vectors_per_query=len(photos), aggregate="max",
        )
        duplicates = await app.state.flatvec.search(COLLECTION, photos, k="all", min_score=request.duplicate_above)
    except flatvec.FlatVecError as e:
        raise http_error(e) from e
    grouped: List[Dict[str, Any]] = []
    for h in products.hits[0]:
        if not grouped or grouped[-1]["product"] != h.label:
            grouped.append({"product": h.label, "score": h.score, "photos": []})
        grouped[-1]["photos"].append(hit_json(h))
    found: Dict[int, Dict[str, Any]] = {}
    for photo, hits in enumerate(duplicates.hits):
        for h in hits:
            if h.id not in found or h.score > found[h.id]["score"]:
                found[h.id] = {"id": h.id, "label": h.label, "score": h.score, "photo": photo}
    return {
        "products": grouped,
        "duplicates": sorted(found.values(), key=lambda d: (-d["score"], d["id"])),
        "duplicates_truncated": bool(duplicates.truncated is not None and duplicates.truncated.any()),
    }


@app.post("/admin/products")
async def add_product(product: NewProduct, x_admin_key: Optional[str] = Header(None)) -> Dict[str, int]:
    """Adds (or replaces) a product's image embeddings, live: searches see them at once."""
    expected = os.environ.get("CHECKOUT_ADMIN_KEY")
    if expected is not None and x_admin_key != expected:
        raise HTTPException(status_code=403, detail="X-Admin-Key is missing or wrong")
    if not product.images:
        raise HTTPException(status_code=422, detail="a product needs at least one image")
    attributes = {"visible": product.visible, "category": product.category}
    try:
        inserted, replaced = await app.state.flatvec.add(
            COLLECTION, [i.id for i in product.images], np.asarray([i.embedding for i in product.images], dtype=np.float32),
            labels=[product.product] * len(product.images), payloads=[i.payload for i in product.images],
            attributes=[attributes] * len(product.images),
        )
    except flatvec.FlatVecError as e:
        raise http_error(e) from e
    return {"inserted": inserted, "replaced": replaced}


@app.post("/admin/visibility")
async def set_visibility(change: Visibility, x_admin_key: Optional[str] = Header(None)) -> Dict[str, int]:
    """Publishes or hides images without resending their embeddings (a partial update, durable and
    seen by the next search)."""
    expected = os.environ.get("CHECKOUT_ADMIN_KEY")
    if expected is not None and x_admin_key != expected:
        raise HTTPException(status_code=403, detail="X-Admin-Key is missing or wrong")
    try:
        updated = await app.state.flatvec.set_attributes(COLLECTION, change.images, {"visible": change.visible})
    except flatvec.FlatVecError as e:
        raise http_error(e) from e
    return {"updated": updated}


@app.get("/healthz")
async def healthz() -> Dict[str, str]:
    """Whether FlatVec answers."""
    try:
        await app.state.flatvec.ping()
    except flatvec.FlatVecError as e:
        raise http_error(e) from e
    return {"status": "ok"}
