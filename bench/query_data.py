"""A synthetic catalogue for bench/query.py: clustered vectors in two spaces, bulk-loaded with COPY.

Vectors are a two-level gaussian mixture on the unit sphere, not uniform noise:
`clusters` centres, `subclusters` sub-centres around each (cosine 0.8 to their
centre), products around a sub-centre (cosine ~0.89), so that a product's ten
nearest neighbours are mostly its sub-cluster mates, about 0.8 alike, as with
real product photos of one kind. The semantic space clusters by topic, one topic
per four visual clusters. 0.5% of products are re-listed near-copies (visual
cosine ~0.995) so the similarity ceiling has work to do.

Filters are assigned independently of the vectors (the worst case for filtering
after an index scan): in stock 50%, brand "Acme" 10%, category "rare" 1%.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

DIM = 768
CHUNK = 50_000
PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
COLOURS = ["red", "blue", "green", "black", "white", "navy", "beige", "pink", "grey", "yellow", "brown", "purple"]
ADJECTIVES = ["classic", "slim", "vintage", "summer", "winter", "floral", "striped", "leather", "cotton", "linen"]
NOUNS = [
    "dress", "shirt", "sneaker", "boot", "handbag", "jacket", "scarf", "watch", "lamp", "chair",
    "mug", "sofa", "skirt", "hat", "backpack", "sandal", "rug", "vase", "blanket", "belt",
]  # fmt: skip
BRANDS = ["Acme"] + [f"Brand{i:02d}" for i in range(30)]
COMMON_CATEGORIES = 50


@dataclass
class Catalogue:
    visual: np.ndarray  # (n, DIM) float16, as stored
    semantic: np.ndarray
    in_stock: np.ndarray  # bool
    acme: np.ndarray
    rare: np.ndarray
    ids: np.ndarray  # product ids, row-aligned
    # The title and brand as one number: products sharing it are left out of each other's
    # "more like this" (SIMILAR_EXCLUDE_SAME_LISTING), so the exact reference leaves them out too.
    listing: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _around(rng: np.random.Generator, centres: np.ndarray, spread: float) -> np.ndarray:
    """Points at cosine 1/sqrt(1 + spread^2) from their centre."""
    noise = rng.standard_normal(centres.shape, dtype=np.float32) / np.sqrt(DIM)
    return _unit(centres + spread * noise).astype(np.float32)


class Mixture:
    def __init__(self, rng: np.random.Generator, clusters: int, subclusters: int) -> None:
        centres = _unit(rng.standard_normal((clusters, DIM), dtype=np.float32))
        self.sub = _around(rng, np.repeat(centres, subclusters, axis=0), 0.75).reshape(clusters, subclusters, DIM)

    def draw(self, rng: np.random.Generator, cluster: np.ndarray) -> np.ndarray:
        sub = rng.integers(0, self.sub.shape[1], size=len(cluster))
        return _around(rng, self.sub[cluster, sub], 0.5)


def _halfvec_copy(product_ids: np.ndarray, vectors16: np.ndarray, space: str, encoder: str, now: datetime) -> bytes:
    """PostgreSQL binary COPY rows for (product_id, space, encoder, embedding halfvec, image_count, updated_at)."""
    n = len(product_ids)
    space_b, encoder_b = space.encode(), encoder.encode()
    row = np.dtype(
        [
            ("fields", ">i2"),
            ("l_id", ">i4"), ("id", ">i8"),
            ("l_space", ">i4"), ("space", f"S{len(space_b)}"),
            ("l_enc", ">i4"), ("enc", f"S{len(encoder_b)}"),
            ("l_vec", ">i4"), ("dim", ">i2"), ("unused", ">i2"), ("vec", ">f2", (DIM,)),
            ("l_count", ">i4"), ("count", ">i4"),
            ("l_ts", ">i4"), ("ts", ">i8"),
        ]
    )  # fmt: skip
    rows = np.zeros(n, dtype=row)
    rows["fields"] = 6
    rows["l_id"], rows["id"] = 8, product_ids
    rows["l_space"], rows["space"] = len(space_b), space_b
    rows["l_enc"], rows["enc"] = len(encoder_b), encoder_b
    rows["l_vec"], rows["dim"], rows["vec"] = 4 + 2 * DIM, DIM, vectors16
    rows["l_count"], rows["count"] = 4, 1
    rows["l_ts"], rows["ts"] = 8, int((now - PG_EPOCH).total_seconds() * 1_000_000)
    return rows.tobytes()


COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)


def generate_and_load(
    connection: object, *, n: int, clusters: int, encoders: dict[str, str], category_ids: dict[str, int], seed: int = 1
) -> Catalogue:
    """Generate the catalogue chunk by chunk and COPY it in (psycopg 3 connection); return it for exact search."""
    rng = np.random.default_rng(seed)
    visual_mix, semantic_mix = Mixture(rng, clusters, 20), Mixture(rng, max(clusters // 4, 1), 20)
    common = [category_ids[f"cat-{i:02d}"] for i in range(COMMON_CATEGORIES)]
    catalogue = Catalogue(
        visual=np.zeros((n, DIM), np.float16),
        semantic=np.zeros((n, DIM), np.float16),
        in_stock=np.zeros(n, bool),
        acme=np.zeros(n, bool),
        rare=np.zeros(n, bool),
        listing=np.zeros(n, np.int64),
        ids=np.arange(1, n + 1, dtype=np.int64),
    )
    now = datetime.now(UTC)
    cursor = connection.cursor()  # type: ignore[attr-defined]
    for start in range(0, n, CHUNK):
        stop = min(n, start + CHUNK)
        size = stop - start
        ids = catalogue.ids[start:stop]
        cluster = rng.integers(0, clusters, size=size)
        visual = visual_mix.draw(rng, cluster)
        copies = np.flatnonzero(rng.random(size) < 0.005)[1:]
        visual[copies] = _around(rng, visual[copies - 1], 0.1)  # re-listed near-copies of the previous row
        semantic = semantic_mix.draw(rng, cluster // 4)
        stock = np.where(rng.random(size) < 0.5, rng.integers(1, 50, size=size), 0)
        brand = np.where(rng.random(size) < 0.1, 0, rng.integers(1, len(BRANDS), size=size))
        rare = rng.random(size) < 0.01
        category = np.where(rare, category_ids["rare"], np.asarray(common)[rng.integers(0, len(common), size=size)])
        noun = cluster // 4 % len(NOUNS)
        colour = rng.integers(0, len(COLOURS), size=size)
        adjective = rng.integers(0, len(ADJECTIVES), size=size)
        age = rng.integers(0, 365 * 86400, size=size)
        title = (adjective * len(COLOURS) + colour) * len(NOUNS) + noun  # the title's words, below
        catalogue.listing[start:stop] = title * len(BRANDS) + brand
        catalogue.visual[start:stop], catalogue.semantic[start:stop] = visual, semantic
        catalogue.in_stock[start:stop], catalogue.acme[start:stop], catalogue.rare[start:stop] = (
            stock > 0,
            brand == 0,
            rare,
        )
        text = io.StringIO()
        for i in range(size):
            c, a, w = COLOURS[colour[i]], ADJECTIVES[adjective[i]], NOUNS[noun[i]]
            created = (now - timedelta(seconds=int(age[i]))).isoformat()
            text.write(
                f"{ids[i]}\tB{ids[i]:08d}\t{a.title()} {c} {w}\tA {a} {w} in {c}.\t{BRANDS[brand[i]]}\t{category[i]}\t"
                f'{10 + ids[i] % 190}.00\tEUR\t{stock[i]}\t{{"color": "{c}"}}\t\t\tt\t{created}\t{created}\n'
            )
        with cursor.copy(
            "COPY catalog_product (id, sku, title, description, brand, category_id, price, currency, stock, "
            "attributes, product_group, seller, is_active, created_at, updated_at) FROM STDIN"
        ) as copy:
            copy.write(text.getvalue())
        for space, vectors in (("visual", catalogue.visual[start:stop]), ("semantic", catalogue.semantic[start:stop])):
            with cursor.copy(
                "COPY embeddings_productvector (product_id, space, encoder, embedding, image_count, updated_at) "
                "FROM STDIN (FORMAT binary)"
            ) as copy:
                copy.write(COPY_HEADER + _halfvec_copy(ids, vectors, space, encoders[space], now) + COPY_TRAILER)
        connection.commit()  # type: ignore[attr-defined]
        print(f"  loaded {stop:,} / {n:,}", flush=True)
    cursor.execute("SELECT setval('catalog_product_id_seq', %s)", [n])
    connection.commit()  # type: ignore[attr-defined]
    return catalogue
