"""`manage.py embed_backfill`: a new encoder is filled in beside the old one, then activated."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from catalog.models import ProductImage
from embeddings import pipeline, texts
from embeddings.encoders.multimodal import blend
from embeddings.models import (
    ImageVector,
    NeighbourRebuild,
    ProductNeighbours,
    ProductTextVector,
    ProductVector,
    SpaceEncoder,
)
from embeddings.selectors import active_encoder
from embeddings.vector_indexes import PHOTO_MEAN, VECTOR_TABLES, index_exists, index_name, kind_index_name
from tests.embeddings.test_pipeline import add_photos, as_array

# Inside the test's transaction, so the session's real Celery worker (started by other tests)
# never sees these pending photos and cannot embed them with its own encoders mid-test.
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _immediate_constraints() -> None:
    # CREATE/DROP INDEX cannot follow inserts whose deferred foreign-key checks are
    # still pending in the same transaction; check them at each statement instead.
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


@pytest.fixture
def embedded_with_siglip_in_both_spaces(tiny_encoders: None, settings: Any) -> list[ProductImage]:
    """A catalogue embedded with one tiny model, before the visual space switches to another."""
    settings.EMBEDDINGS_VISUAL_ENCODER = "tiny-siglip"
    images = add_photos(3, sku="A") + add_photos(2, sku="B", seed=20)
    pipeline.embed_images(image_ids=[image.pk for image in images])
    settings.EMBEDDINGS_VISUAL_ENCODER = "tiny-dinov2"
    return images


def test_it_backfills_a_new_encoder_builds_its_index_after_the_load_and_activates_it(
    embedded_with_siglip_in_both_spaces: list[ProductImage], capsys: Any
) -> None:
    old = active_encoder("visual")
    assert old is not None and old.name == "tiny-siglip"

    call_command("embed_backfill", "--space", "visual", "--activate", "--no-progress", "--batch-size", "2")

    new = active_encoder("visual")
    assert new is not None and new.name == "tiny-dinov2"
    assert ImageVector.objects.filter(space="visual", encoder=new.identity).count() == 5
    assert ImageVector.objects.filter(space="visual", encoder=old.identity).count() == 5, "old vectors kept"
    assert ProductVector.objects.filter(space="visual", encoder=new.identity).count() == 2
    for table in VECTOR_TABLES.values():
        assert index_exists(index_name(table, "visual", new.identity))
    # The stored "more like this" lists were rebuilt with the new encoder before queries switched to it,
    # and the old encoder's lists are gone (two encoders' similarities are never compared).
    lists = ProductNeighbours.objects.filter(space="visual")
    assert set(lists.values_list("encoder", flat=True)) == {new.identity}
    assert sorted(len(ids) for ids in lists.values_list("neighbour_ids", flat=True)) == [1, 1]
    rebuilt = NeighbourRebuild.objects.get(space="visual", encoder=new.identity)
    activated = SpaceEncoder.objects.get(space="visual", encoder=new.identity).activated_at
    assert rebuilt.finished_at is not None and activated is not None and rebuilt.finished_at <= activated
    out = capsys.readouterr().out
    assert "5 photos embedded" in out and "0 still missing" in out and "HNSW indexes rebuilt" in out
    assert "neighbour lists rebuilt before activation" in out


def test_only_missing_resumes_and_the_index_is_used_by_knn_afterwards(
    embedded_with_siglip_in_both_spaces: list[ProductImage], capsys: Any
) -> None:
    images = embedded_with_siglip_in_both_spaces
    call_command("embed_backfill", "--space", "visual", "--no-progress")
    new_identity = capsys.readouterr().out.split(": ")[1].split(" ")[0]
    ImageVector.objects.filter(encoder=new_identity, image__in=images[:2]).delete()  # as if interrupted

    call_command("embed_backfill", "--space", "visual", "--only-missing", "--no-progress")

    assert "2 photos embedded" in capsys.readouterr().out
    assert ImageVector.objects.filter(encoder=new_identity).count() == 5
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT id FROM embeddings_imagevector WHERE space = 'visual' AND encoder = %s "
            "ORDER BY embedding::halfvec(32) <=> (SELECT embedding FROM embeddings_imagevector LIMIT 1)::halfvec(32) "
            "LIMIT 3",
            [new_identity],
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert index_name(VECTOR_TABLES["image"], "visual", new_identity) in plan


def test_a_new_semantic_encoder_embeds_every_products_words_before_it_is_activated(
    tiny_encoders: None, settings: Any, capsys: Any
) -> None:
    # Given a catalogue whose photos and words are embedded with one semantic encoder
    settings.EMBEDDINGS_SEMANTIC_ENCODER = "tiny-clip"
    settings.SEMANTIC_TEXT_WEIGHT = 0.5
    images = add_photos(2, sku="A") + add_photos(1, sku="B", seed=20)
    pipeline.embed_images(image_ids=[image.pk for image in images])
    assert texts.embed_product_texts() == 2
    old = active_encoder("semantic")
    assert old is not None and old.name == "tiny-clip"

    # When the space switches to another
    settings.EMBEDDINGS_SEMANTIC_ENCODER = "tiny-siglip"
    call_command("embed_backfill", "--space", "semantic", "--activate", "--no-progress")

    # Then every product has the new encoder's words, blended into its new vector, beside the old ones
    new = active_encoder("semantic")
    assert new is not None and new.name == "tiny-siglip"
    words = ProductTextVector.objects.filter(space="semantic")
    assert sorted(words.values_list("encoder", flat=True)) == sorted([old.identity, new.identity] * 2)
    for vector in ProductVector.objects.filter(space="semantic", encoder=new.identity):
        mean = as_array(vector.image_embedding)
        text = as_array(words.get(product=vector.product, encoder=new.identity).embedding)
        np.testing.assert_allclose(as_array(vector.embedding), blend(mean[None], text[None], 0.5)[0], atol=3e-3)
    assert index_exists(kind_index_name(PHOTO_MEAN, "semantic", new.identity))
    assert "the words of 2 products embedded" in capsys.readouterr().out


def test_activate_refuses_while_photos_are_missing_vectors(
    embedded_with_siglip_in_both_spaces: list[ProductImage],
) -> None:
    broken = embedded_with_siglip_in_both_spaces[0]
    broken.file.storage.delete(broken.file.name)

    with pytest.raises(CommandError, match=r"not activated, backfill incomplete: visual \(1 photos"):
        call_command("embed_backfill", "--space", "visual", "--activate", "--no-progress")

    current = active_encoder("visual")
    assert current is not None and current.name == "tiny-siglip"
