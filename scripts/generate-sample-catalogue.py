#!/usr/bin/env python3
"""Generates the sample catalogue in data/ (deterministic; Python standard library only).

A stand-in for CLIP image embeddings of a product catalogue: 600 products, 5 photos each, 512-d unit
vectors. Each product has a random direction; its photos are that direction plus noise (different
angles, lighting), normalised. Queries are new noisy "checkout camera" photos of known products.

Writes:
  data/products.npy          float32 (3000, 512)  photo embeddings
  data/products-ids.npy      int64   (3000,)      photo ids (external ids)
  data/products-labels.npy   int64   (3000,)      product id of each photo (the label)
  data/products-payloads.jsonl                    one JSON object per photo: product name and image path
  data/queries.npy           float32 (20, 512)    new photos of products
  data/queries-labels.npy    int64   (20,)        the product each query shows

Run: python3 scripts/generate-sample-catalogue.py   (rewrites the files byte for byte the same)
"""
import json
import math
import os
import random
import struct

SEED = 20261121
PRODUCTS = 600
PHOTOS = 5
DIM = 512
QUERIES = 20
NOISE = 0.55
KINDS = ["Mug", "Kettle", "Lamp", "Chair", "Backpack", "Sneaker", "Jacket", "Watch", "Headphones", "Bottle",
         "Notebook", "Umbrella", "Vase", "Blender", "Toaster", "Scarf", "Helmet", "Camera", "Speaker", "Plant pot"]
COLOURS = ["red", "blue", "green", "black", "white", "grey", "yellow", "orange", "purple", "brown"]

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")


def unit(v):
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v]


def npy_header(descr, shape):
    shape_text = "(%d,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(str(s) for s in shape) + ")"
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape_text)
    pad = (64 - (10 + len(d) + 1) % 64) % 64
    d = d + " " * pad + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(d)) + d.encode("latin1")


def write_f32(path, rows):
    with open(path, "wb") as f:
        f.write(npy_header("<f4", [len(rows), len(rows[0])]))
        for r in rows:
            f.write(struct.pack("<%df" % len(r), *r))


def write_i64(path, values):
    with open(path, "wb") as f:
        f.write(npy_header("<i8", [len(values)]))
        f.write(struct.pack("<%dq" % len(values), *values))


def main():
    rng = random.Random(SEED)
    centres = [unit([rng.gauss(0.0, 1.0) for _ in range(DIM)]) for _ in range(PRODUCTS)]
    vectors, ids, labels, payloads = [], [], [], []
    for p, centre in enumerate(centres):
        product_id = 1000 + p
        name = "%s %s #%03d" % (COLOURS[p % len(COLOURS)].capitalize(), KINDS[(p // len(COLOURS)) % len(KINDS)], p)
        for k in range(PHOTOS):
            vectors.append(unit([c + rng.gauss(0.0, NOISE / math.sqrt(DIM)) for c in centre]))
            ids.append(product_id * 10 + k)
            labels.append(product_id)
            payloads.append({"product": name, "image": "images/%d/%d.jpg" % (product_id, k)})
    queries, query_labels = [], []
    for _ in range(QUERIES):
        p = rng.randrange(PRODUCTS)
        queries.append(unit([c + rng.gauss(0.0, NOISE / math.sqrt(DIM)) for c in centres[p]]))
        query_labels.append(1000 + p)
    os.makedirs(DATA, exist_ok=True)
    write_f32(os.path.join(DATA, "products.npy"), vectors)
    write_i64(os.path.join(DATA, "products-ids.npy"), ids)
    write_i64(os.path.join(DATA, "products-labels.npy"), labels)
    with open(os.path.join(DATA, "products-payloads.jsonl"), "w") as f:
        for p in payloads:
            f.write(json.dumps(p, sort_keys=True) + "\n")
    write_f32(os.path.join(DATA, "queries.npy"), queries)
    write_i64(os.path.join(DATA, "queries-labels.npy"), query_labels)


if __name__ == "__main__":
    main()
