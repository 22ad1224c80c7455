from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from PIL import Image
from pytest_django.fixtures import Settings as SettingsWrapper

from catalog.models import Product, ProductImage
from embeddings.encoders import get_encoder
from embeddings.encoders.base import Encoder
from embeddings.encoders.testing import TINY_DINOV2, TINY_SIGLIP, build_tiny_models
from embeddings.models import ProductVector
from embeddings.services import space_encoder_register
from tests.recommender.storefront.conftest import analyze, ids

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Encoder, Encoder]:
    build_tiny_models(Path(tmp_path_factory.mktemp("tiny-models")))
    return get_encoder(TINY_DINOV2), get_encoder(TINY_SIGLIP)


@pytest.fixture
def tiny(
    tiny_models: tuple[Encoder, Encoder], settings: SettingsWrapper, db: None
) -> Iterator[tuple[Encoder, Encoder]]:
    visual, semantic = tiny_models
    settings.EMBEDDINGS_VISUAL_ENCODER, settings.EMBEDDINGS_SEMANTIC_ENCODER = TINY_DINOV2, TINY_SIGLIP
    space_encoder_register(space="visual", identity=visual.identity, dim=visual.dim)
    space_encoder_register(space="semantic", identity=semantic.identity, dim=semantic.dim)
    yield visual, semantic


def photo(colour: tuple[int, int, int], size: int = 64) -> bytes:
    buffer = io.BytesIO()
    image = Image.new("RGB", (size, size), colour)
    # A diagonal stripe, so that photos differ in shape as well as colour.
    for i in range(size):
        image.putpixel((i, i), (255 - colour[0], 255 - colour[1], 255 - colour[2]))
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def add(
    title: str, *, semantic: np.ndarray | None = None, visual: np.ndarray | None = None, **fields: object
) -> Product:
    product = Product.objects.create(sku=f"S-{title[:40]}", title=title, price=10, stock=1, **fields)
    encoders = dict(connection_encoders())
    rows = []
    if visual is not None:
        rows.append(
            ProductVector(product=product, space="visual", encoder=encoders["visual"], embedding=visual.tolist())
        )
    if semantic is not None:
        rows.append(
            ProductVector(product=product, space="semantic", encoder=encoders["semantic"], embedding=semantic.tolist())
        )
    ProductVector.objects.bulk_create(rows)
    return product


def connection_encoders() -> list[tuple[str, str]]:
    from embeddings.models import SpaceEncoder

    return list(SpaceEncoder.objects.filter(state="active").values_list("space", "encoder"))


TEXTS = [
    "a photo of a red running shoe",
    "green ceramic coffee mug",
    "wooden dining chair, oak finish",
    "black leather handbag with a gold buckle",
]


def test_words_find_the_product_whose_vector_they_embed_to(client: Client, tiny: tuple[Encoder, Encoder]) -> None:
    # Given products whose semantic vectors are the text tower's embeddings of their descriptions
    _, semantic = tiny
    vectors = semantic.encode_texts(TEXTS)
    products = [add(f"Item {i}", semantic=vectors[i]) for i in range(len(TEXTS))]

    # When a shopper types one of the descriptions (vectors only)
    response = client.get("/api/v1/search/", {"q": TEXTS[2], "text_weight": "0"})

    # Then that product ranks first, with its semantic score, and the text tower's identity is reported
    body = response.json()
    assert response.status_code == 200, body
    assert ids(response)[0] == products[2].id
    assert body["results"][0]["scores"]["semantic"] == pytest.approx(1.0, abs=2e-3)
    assert body["results"][0]["scores"]["visual"] is None
    assert body["diagnostics"]["encoders"] == {"semantic": semantic.identity}
    assert body["count"] == len(TEXTS)


def test_full_text_matches_are_blended_in(client: Client, tiny: tuple[Encoder, Encoder]) -> None:
    # Given a knife set whose vector says "coffee mug", and products whose vectors match the words better
    _, semantic = tiny
    vectors = semantic.encode_texts(["stainless steel kitchen knife set", "green ceramic coffee mug"])
    others = [add(f"Thing {i}", semantic=vectors[0] + 0.01 * i) for i in range(5)]
    knives = add("Chef knife set", description="Stainless steel", brand="Sharp", semantic=vectors[1])

    words = "stainless steel kitchen knife set"
    by_vector = client.get("/api/v1/search/", {"q": words, "text_weight": "0"}).json()
    by_text = client.get("/api/v1/search/", {"q": "knife stainless", "text_weight": "1"}).json()
    blended = client.get("/api/v1/search/", {"q": "knife stainless"}).json()

    assert by_vector["results"][-1]["id"] == knives.id
    assert by_text["results"][0]["id"] == knives.id
    assert by_text["results"][0]["scores"]["text"] > 0
    assert blended["results"][0]["id"] == knives.id  # first in text, mid-field in vectors: fusion lifts it
    assert {r["id"] for r in blended["results"]} == {knives.id, *(o.id for o in others)}
    assert blended["diagnostics"]["spaces_queried"] == ["semantic", "text"]


def test_word_matches_rank_ahead_of_semantic_neighbours_and_say_which_rule_placed_them(
    client: Client, tiny: tuple[Encoder, Encoder]
) -> None:
    # Given coats whose vectors are exactly what "dress" embeds to, and dresses whose vectors are far from it
    _, semantic = tiny
    dress_vector, far = semantic.encode_texts(["dress", "wooden dining chair, oak finish"])
    coats = [add(f"Red wool coat {i}", semantic=dress_vector) for i in range(3)]
    dresses = [add("Blue silk dress", semantic=far), add("Red cotton dress", semantic=far * 0.9 + dress_vector * 0.1)]
    chair = add("Oak chair", semantic=far)

    # When a shopper types one word: every dress first, then the semantic neighbours, best first
    body = client.get("/api/v1/search/", {"q": "dresses"}).json()
    found = [r["id"] for r in body["results"]]
    assert set(found[:2]) == {d.id for d in dresses}
    assert found[2:5] == sorted(c.id for c in coats) and found[5] == chair.id
    assert [r["scores"]["match"] for r in body["results"]] == ["every_word"] * 2 + ["semantic"] * 4
    assert 2 <= body["results"][0]["scores"]["text"] < 3 and body["results"][0]["scores"]["combined"] > 2
    assert body["results"][2]["scores"]["text"] is None and body["results"][2]["scores"]["combined"] < 1

    # Colour and noun: the red dress, then what matches some of the words (the other dress, the red coats)
    body = client.get("/api/v1/search/", {"q": "red dress"}).json()
    found = [r["id"] for r in body["results"]]
    assert found[0] == dresses[1].id and body["results"][0]["scores"]["match"] == "every_word"
    assert set(found[1:5]) == {dresses[0].id, *(c.id for c in coats)}
    assert [r["scores"]["match"] for r in body["results"][1:]] == ["some_words"] * 4 + ["semantic"]

    # Words matching nothing: the semantic space alone decides
    body = client.get("/api/v1/search/", {"q": "gown"}).json()
    assert {r["scores"]["match"] for r in body["results"]} == {"semantic"}
    semantic_scores = [r["scores"]["semantic"] for r in body["results"]]
    assert semantic_scores == sorted(semantic_scores, reverse=True)

    # A quoted phrase means exactly what it says: no "some of the words" tier
    body = client.get("/api/v1/search/", {"q": '"cotton dress"'}).json()
    assert [r["scores"]["match"] for r in body["results"]].count("some_words") == 0
    assert body["results"][0]["id"] == dresses[1].id


def test_a_word_matched_only_inside_a_hyphenated_compound_ranks_after_a_whole_word_match(
    client: Client, tiny: tuple[Encoder, Encoder]
) -> None:
    # Given T-shirts whose vectors are exactly what "shirt" embeds to, and shirts far from it
    # (PostgreSQL indexes "T-shirt" with its parts, so the word "shirt" matches all five)
    _, semantic = tiny
    shirt_vector, far = semantic.encode_texts(["shirt", "wooden dining chair, oak finish"])
    tees = [add(f"White cotton T-shirt {i}", semantic=shirt_vector) for i in range(3)]
    shirts = [add("Navy linen shirt", semantic=far), add("Striped oxford shirt", semantic=far)]

    # When a shopper types "shirt": the shirts first, then the T-shirts, each tier named
    body = client.get("/api/v1/search/", {"q": "shirt"}).json()
    found = [r["id"] for r in body["results"]]
    assert set(found[:2]) == {s.id for s in shirts} and set(found[2:5]) == {t.id for t in tees}
    assert [r["scores"]["match"] for r in body["results"][:5]] == ["every_word"] * 2 + ["every_word_in_compound"] * 3
    assert all(2.5 <= r["scores"]["text"] < 3 for r in body["results"][:2])
    assert all(2 <= r["scores"]["text"] < 2.5 for r in body["results"][2:5])

    # "T-shirt" and "white shirt" still find what they name first
    body = client.get("/api/v1/search/", {"q": "T-shirt"}).json()
    assert {r["id"] for r in body["results"][:3]} == {t.id for t in tees}
    assert {r["scores"]["match"] for r in body["results"][:3]} == {"every_word"}
    body = client.get("/api/v1/search/", {"q": "navy shirt"}).json()
    assert body["results"][0]["id"] == shirts[0].id and body["results"][0]["scores"]["match"] == "every_word"
    assert body["results"][1]["id"] == shirts[1].id and body["results"][1]["scores"]["match"] == "some_words"
    assert {r["scores"]["match"] for r in body["results"][2:5]} == {"some_words_in_compound"}


def test_the_full_text_branch_uses_the_gin_index(client: Client, tiny: tuple[Encoder, Encoder]) -> None:
    # Given a catalogue where one product in 500 mentions knives (so the index is worth using)
    _, semantic = tiny
    add("Chef knife set", semantic=semantic.encode_texts(["knife"])[0])
    Product.objects.bulk_create(Product(sku=f"MUG-{i}", title=f"Coffee mug {i}", price=5) for i in range(500))
    analyze()
    with CaptureQueriesContext(connection) as captured:
        # Two words: the every-word branch and the some-words branch, both through the index
        client.get("/api/v1/search/", {"q": "knife sharpener"})
    knn_sql = next(q["sql"] for q in captured.captured_queries if "websearch_to_tsquery" in q["sql"])

    with transaction.atomic(), connection.cursor() as cursor:
        # A one-row table is cheaper to scan than to look up: forbid the scan to see whether the index *can* serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {knn_sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert plan.count("product_search_gin") >= 2, plan


@pytest.mark.parametrize("q", ["", "   ", "x" * 257])
def test_an_empty_or_overlong_query_is_a_400(client: Client, tiny: tuple[Encoder, Encoder], q: str) -> None:
    response = client.get("/api/v1/search/", {"q": q})

    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("q:")


def test_a_missing_query_is_a_400(client: Client, tiny: tuple[Encoder, Encoder]) -> None:
    response = client.get("/api/v1/search/")

    assert response.status_code == 400
    assert response.json()["error"]["message"] == "q: This field is required."


def test_words_cannot_be_compared_with_vectors_of_other_weights(
    client: Client, db: None, tiny_models: tuple[Encoder, Encoder]
) -> None:
    # Given a semantic space filled by weights this process does not have
    space_encoder_register(space="semantic", identity=f"{TINY_SIGLIP}@other-weights", dim=32)

    response = client.get("/api/v1/search/", {"q": "red shoe"})

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "encoder_mismatch"


def test_a_photo_finds_the_products_that_look_like_it_and_is_not_stored(
    client: Client, tiny: tuple[Encoder, Encoder], settings: SettingsWrapper, tmp_path: Path
) -> None:
    # Given three products embedded from three photos
    settings.MEDIA_ROOT = tmp_path
    visual, semantic = tiny
    photos = [photo((200, 30, 30)), photo((30, 200, 30)), photo((30, 30, 200))]
    products = [
        add(f"Photo {i}", visual=visual.encode_images([p])[0], semantic=semantic.encode_images([p])[0])
        for i, p in enumerate(photos)
    ]

    # When a shopper uploads the second photo
    response = client.post("/api/v1/search/image/", {"image": io.BytesIO(photos[1]), "limit": "2"})

    # Then its product comes first with a near-perfect score in both spaces, and nothing was stored
    body = response.json()
    assert response.status_code == 200, body
    assert ids(response)[0] == products[1].id and body["count"] == 2
    assert body["results"][0]["scores"]["visual"] == pytest.approx(1.0, abs=5e-3)
    assert body["results"][0]["scores"]["semantic"] == pytest.approx(1.0, abs=5e-3)
    assert body["diagnostics"]["encoders"] == {"visual": visual.identity, "semantic": semantic.identity}
    assert ProductImage.objects.count() == 0
    assert not any(tmp_path.iterdir())


def test_image_search_takes_filters_from_form_fields(client: Client, tiny: tuple[Encoder, Encoder]) -> None:
    visual, _ = tiny
    red = photo((200, 30, 30))
    kept = add("Kept", visual=visual.encode_images([red])[0], attributes={"color": "red"})
    add("Filtered out", visual=visual.encode_images([red])[0], attributes={"color": "blue"})

    response = client.post(
        "/api/v1/search/image/",
        {"image": io.BytesIO(red), "attr.color": "red", "mode": "visual"},
    )

    assert ids(response) == [kept.id]
    assert response.json()["diagnostics"]["filters_applied"] == {"attr.color": "red"}


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"image": io.BytesIO(b"definitely not a picture")}, "image_invalid"),
        ({"image": io.BytesIO(b"")}, "invalid"),
        ({}, "invalid"),
    ],
    ids=["garbage", "empty-file", "no-photo"],
)
def test_a_bad_photo_is_a_400(client: Client, tiny: tuple[Encoder, Encoder], payload: dict, code: str) -> None:
    response = client.post("/api/v1/search/image/", payload)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"].startswith("image")


def test_recommendations_from_words_alone_rank_by_the_text_tower(client: Client, tiny: tuple[Encoder, Encoder]) -> None:
    _, semantic = tiny
    vectors = semantic.encode_texts(TEXTS)
    products = [add(f"Item {i}", semantic=vectors[i]) for i in range(len(TEXTS))]

    response = client.post("/api/v1/recommendations/", {"query": TEXTS[1], "limit": 1}, content_type="application/json")

    assert ids(response) == [products[1].id]
    assert response.json()["diagnostics"]["spaces_queried"] == ["semantic"]


@pytest.fixture
def photo_server() -> Iterator[tuple[str, bytes]]:
    """A real HTTP server on loopback serving one PNG at /dress.png."""
    import http.server
    import threading

    body = photo((30, 200, 30))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/dress.png":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", body
    server.shutdown()
    server.server_close()


def test_a_photo_url_is_fetched_under_the_import_rules(
    client: Client, tiny: tuple[Encoder, Encoder], settings: SettingsWrapper, photo_server: tuple[str, bytes]
) -> None:
    visual, semantic = tiny
    base, body = photo_server
    match = add("Green", visual=visual.encode_images([body])[0], semantic=semantic.encode_images([body])[0])
    add("Red", visual=visual.encode_images([photo((200, 30, 30))])[0])

    # Loopback is a private address: refused by default, like any import...
    refused = client.post("/api/v1/search/image/", {"image_url": f"{base}/dress.png"}, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "image_url_unreachable"

    # ...and fetched once private addresses are allowed (as in a closed test network)
    settings.FETCH_ALLOW_PRIVATE_ADDRESSES = True
    response = client.post(
        "/api/v1/search/image/", {"image_url": f"{base}/dress.png", "limit": 1}, content_type="application/json"
    )
    assert ids(response) == [match.id]
    missing = client.post("/api/v1/search/image/", {"image_url": f"{base}/nope.png"}, content_type="application/json")
    assert missing.status_code == 400
    assert missing.json()["error"]["message"].startswith("image_url:")
