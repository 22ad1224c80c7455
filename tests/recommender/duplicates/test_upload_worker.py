"""Upload -> real worker embeds (lite profile, real weights) -> embedding hook -> duplicate check, end to end."""

from __future__ import annotations

import io

import numpy as np
import pytest
import skimage.data
from django.core.management import call_command
from PIL import Image

from catalog.services import product_image_add
from recommender.duplicates.models import DuplicateGroup, DuplicatePair
from tests.catalog import factories
from tests.fixtures_worker import WorkerProcess, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def jpeg(array: np.ndarray, *, quality: int = 90, size: tuple[int, int] | None = None) -> bytes:
    image = Image.fromarray(array).convert("RGB")
    if size is not None:
        image = image.resize(size)
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


def test_an_uploaded_copy_is_flagged_by_the_worker_and_a_variant_is_not(celery_worker: WorkerProcess) -> None:
    # Given a listing, a re-listing of its photo by another seller (resized, JPEG q30), a variant
    # of the listing with the very same photo, and an unrelated product
    photo = skimage.data.astronaut()
    original = factories.product("ORIG-1", seller="shop-a", product_group="astro")
    relisted = factories.product("COPY-1", seller="shop-b")
    variant = factories.product("ORIG-1-BLUE", seller="shop-a", product_group="astro")
    unrelated = factories.product("OTHER-1", seller="shop-c")

    # When their photos are uploaded (each upload enqueues embedding on commit; the worker
    # embeds, then the embedding hook enqueues the duplicate check)
    product_image_add(product=original, data=jpeg(photo))
    product_image_add(product=variant, data=jpeg(photo))
    product_image_add(product=unrelated, data=jpeg(skimage.data.coffee()))
    product_image_add(product=relisted, data=jpeg(photo, quality=30, size=(256, 256)))

    # Then the re-listing is grouped with the original (or its variant) as an exact copy
    def flagged() -> DuplicateGroup | None:
        return DuplicateGroup.objects.filter(members__product=relisted).first()

    group = wait_for(flagged, timeout=240, interval=0.5, what=f"the duplicate group (log: {celery_worker.log_path})")
    members = set(group.members.values_list("product_id", flat=True))
    assert relisted.pk in members and members & {original.pk, variant.pk}
    assert group.tier == "exact", list(DuplicatePair.objects.values("tier", "similarity", "phash_distance"))
    # And the variant of the same product, with identical bytes, is never paired with the original
    low, high = sorted([original.pk, variant.pk])
    assert not DuplicatePair.objects.filter(product_low_id=low, product_high_id=high).exists()
    assert unrelated.pk not in set(DuplicatePair.objects.values_list("product_low_id", flat=True)) | set(
        DuplicatePair.objects.values_list("product_high_id", flat=True)
    )
    assert "recommender.duplicates.tasks.duplicates_check_images" in celery_worker.log_tail(200_000)


def pair_of(a: int, b: int) -> DuplicatePair | None:
    low, high = sorted([a, b])
    return DuplicatePair.objects.filter(product_low_id=low, product_high_id=high).first()


def test_turned_and_greyscale_relistings_are_flagged_on_upload_and_by_the_full_scan(
    celery_worker: WorkerProcess,
) -> None:
    # Given a listing of a real photo, re-listings of it turned 90° and in greyscale by other sellers
    # (far from it in the CNN's space), and an unrelated product
    photo = skimage.data.astronaut()
    original = factories.product("ORIG-2", seller="shop-a")
    turned = factories.product("TURNED-2", seller="shop-b")
    grey = factories.product("GREY-2", seller="shop-c")
    unrelated = factories.product("OTHER-2", seller="shop-d")

    # When their photos are uploaded and the worker embeds and checks each
    product_image_add(product=original, data=jpeg(photo))
    product_image_add(product=unrelated, data=jpeg(skimage.data.coffee()))
    product_image_add(product=turned, data=jpeg(np.rot90(photo).copy()))
    product_image_add(product=grey, data=jpeg(np.asarray(Image.fromarray(photo).convert("L"))))

    # Then each copy is paired with the original: the turned one as a near-duplicate, the greyscale one
    # exact; and the two copies with each other (the later checked of them finds the other)
    def all_three() -> list[DuplicatePair] | None:
        found = [pair_of(original.pk, turned.pk), pair_of(original.pk, grey.pk), pair_of(turned.pk, grey.pk)]
        pairs = [pair for pair in found if pair is not None]
        return pairs if len(pairs) == 3 else None

    what = f"the re-listings paired (log: {celery_worker.log_path})"
    pairs = wait_for(all_three, timeout=240, interval=0.5, what=what)
    evidence = list(DuplicatePair.objects.values("tier", "similarity", "phash_distance"))
    assert [pair.tier for pair in pairs] == ["near_duplicate", "exact", "near_duplicate"], evidence
    assert pairs[0].phash_distance is not None and pairs[0].phash_distance <= 4, evidence
    # Nothing may write pairs while the scan below runs: stop the worker's consuming and let it drain.
    celery_worker.release()
    on_upload = set(DuplicatePair.objects.values_list("product_low_id", "product_high_id", "tier"))
    assert len(on_upload) == 3, "the unrelated product is paired with none"

    # And the full scan, over the real vectors the worker stored, finds the same pairs
    DuplicatePair.objects.all().delete()
    call_command("find_duplicates", "--no-progress", stdout=io.StringIO())
    assert set(DuplicatePair.objects.values_list("product_low_id", "product_high_id", "tier")) == on_upload
