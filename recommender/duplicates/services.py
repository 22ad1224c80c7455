"""Writes for duplicate listings: the per-photo check, candidate pairs and review groups.

Every write here runs under one transaction-scoped advisory lock (`duplicates_lock`):
storing pairs and regrouping are read-modify-write over rows that concurrent
checks of neighbouring photos share (two uploads of the same item would
otherwise both create a group for it). Each holder keeps the lock for
milliseconds, so serialising costs nothing noticeable and rules out the races.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product
from embeddings.selectors import ActiveEncoder
from recommender.duplicates import selectors
from recommender.duplicates.detection import PairEvidence, compare, strongest_per_pair
from recommender.duplicates.grouping import Edge, Group, complete_linkage_groups, pair_key
from recommender.duplicates.models import (
    DuplicateDismissal,
    DuplicateGroup,
    DuplicateGroupMember,
    DuplicatePair,
    GroupStatus,
)
from recommender.duplicates.thresholds import Tier

_LOCK_KEY = 0x6475_7073  # "dups"


def duplicates_lock() -> None:
    """Take the duplicates write lock until the surrounding transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])


def duplicates_check_image(*, image_id: int, encoder: ActiveEncoder | None = None) -> int:
    """Flag the listings that photo `image_id` duplicates; return how many pairs it now supports.

    Idempotent: checking the same photo again yields the same pairs. A photo
    without a current visual vector (not embedded yet, deleted, superseded)
    is skipped: its new vector triggers another check.
    """
    encoder = encoder or selectors.visual_encoder()
    if encoder is None:
        return 0
    check = selectors.photo_to_check(image_id=image_id, encoder=encoder)
    if check is None or not check.product_active:
        return 0
    thresholds = selectors.thresholds_for_encoder(encoder)
    neighbours = selectors.photo_neighbours(check=check, encoder=encoder, limit=settings.DUPLICATES_KNN_LIMIT)
    found = [compare(check.photo, other, similarity=sim, thresholds=thresholds) for other, sim in neighbours]
    seen = {other.image_id for other, _ in neighbours}
    hashed = selectors.phash_photos(
        check=check, encoder=encoder, max_bits=thresholds.phash_max_distance, limit=settings.DUPLICATES_KNN_LIMIT
    )
    for other, sim in hashed:
        if other.image_id not in seen:
            found.append(compare(check.photo, other, similarity=sim, thresholds=thresholds))
            seen.add(other.image_id)
    for other in selectors.same_bytes_photos(photo=check.photo, limit=settings.DUPLICATES_KNN_LIMIT):
        if other.image_id not in seen:
            found.append(compare(check.photo, other, similarity=1.0, thresholds=thresholds))
    evidence = strongest_per_pair(item for item in found if item is not None)
    # Pairs that rested on an older look of this photo and are no longer supported by it.
    stale = DuplicatePair.objects.filter(Q(image_low_id=image_id) | Q(image_high_id=image_id)).exclude(
        _keys_q(evidence)
    )
    # Most photos have no look-alike: then there is nothing to write and no lock to take. A pair
    # that a concurrent check of another photo stores meanwhile rests on that photo's evidence.
    if not evidence and not stale.exists():
        return 0
    with transaction.atomic():
        duplicates_lock()
        touched = set(stale.values_list("product_low_id", "product_high_id").distinct())
        stale.delete()
        stored = duplicate_pairs_store(evidence=evidence.values(), encoder=encoder.identity, refresh_image=image_id)
        products = {check.photo.product_id} | {p for key in touched for p in key}
        products |= {p for item in stored for p in item.key}
        duplicate_groups_refresh(product_ids=products)
    return len(stored)


def _keys_q(evidence: Mapping[tuple[int, int], PairEvidence]) -> Q:
    query = Q(pk__in=[])
    for low, high in evidence:
        query |= Q(product_low_id=low, product_high_id=high)
    return query


def duplicate_pairs_store(
    *, evidence: Iterable[PairEvidence], encoder: str, refresh_image: int | None = None
) -> list[PairEvidence]:
    """Upsert pairs, keeping the strongest evidence per pair; skip pairs remembered as "not duplicate".

    Evidence replaces a stored pair when it is stronger, or when it comes from
    re-checking the very photo the stored evidence rests on (`refresh_image`).
    Returns the evidence that was not suppressed. Call inside a transaction.
    """
    items = _not_dismissed({item.key: item for item in evidence})
    if not items:
        return []
    duplicates_lock()
    lows = {low for low, _ in items}
    highs = {high for _, high in items}
    existing = {
        (pair.product_low_id, pair.product_high_id): pair
        for pair in DuplicatePair.objects.filter(product_low_id__in=lows, product_high_id__in=highs)
    }
    to_create: list[DuplicatePair] = []
    to_update: list[DuplicatePair] = []
    for key, item in items.items():
        pair = existing.get(key)
        if pair is None:
            to_create.append(DuplicatePair(product_low_id=key[0], product_high_id=key[1]))
            _fill(to_create[-1], item, encoder)
            continue
        stored_strength = (int(Tier.from_code(pair.tier)), pair.similarity)
        refreshes = refresh_image is not None and refresh_image in (pair.image_low_id, pair.image_high_id)
        if item.strength > stored_strength or refreshes or pair.encoder != encoder:
            _fill(pair, item, encoder)
            to_update.append(pair)
    DuplicatePair.objects.bulk_create(to_create, batch_size=2000)
    fields = ["image_low", "image_high", "tier", "similarity", "phash_distance", "same_bytes", "encoder", "detected_at"]
    DuplicatePair.objects.bulk_update(to_update, fields, batch_size=2000)
    return list(items.values())


def _fill(pair: DuplicatePair, item: PairEvidence, encoder: str) -> None:
    # Set by hand: auto_now fills it on insert, but bulk_update writes the attribute as it is.
    pair.detected_at = timezone.now()
    pair.image_low_id = item.image_low
    pair.image_high_id = item.image_high
    pair.tier = item.tier.code
    pair.similarity = item.similarity
    pair.phash_distance = item.phash_distance
    pair.same_bytes = item.same_bytes
    pair.encoder = encoder


def _not_dismissed(items: dict[tuple[int, int], PairEvidence]) -> dict[tuple[int, int], PairEvidence]:
    """Drop pairs decided "not duplicate" whose photos are still the ones the decision saw."""
    if not items:
        return items
    lows = {low for low, _ in items}
    highs = {high for _, high in items}
    dismissals = [
        row
        for row in DuplicateDismissal.objects.filter(product_low_id__in=lows, product_high_id__in=highs)
        if (row.product_low_id, row.product_high_id) in items
    ]
    if not dismissals:
        return items
    digests = selectors.product_photo_digests(
        p for row in dismissals for p in (row.product_low_id, row.product_high_id)
    )
    suppressed = {
        (row.product_low_id, row.product_high_id)
        for row in dismissals
        if digests.get(row.product_low_id) == row.photos_low_digest
        and digests.get(row.product_high_id) == row.photos_high_digest
    }
    return {key: item for key, item in items.items() if key not in suppressed}


def duplicate_groups_refresh(*, product_ids: Iterable[int]) -> list[DuplicateGroup]:
    """Regroup the open groups around `product_ids` from the stored pairs; return the groups now open there.

    The neighbourhood is the given products, every member of an open group
    containing one of them, and their pair partners that are in no open group
    (so pairs left out of a group earlier resurface once it is resolved). A
    group whose members come out unchanged keeps its id, so a merchandiser
    looking at it is not disturbed.
    """
    seeds = set(product_ids)
    if not seeds:
        return []
    duplicates_lock()
    open_members = DuplicateGroupMember.objects.filter(group__status=GroupStatus.OPEN)
    old_group_ids = set(open_members.filter(product_id__in=seeds).values_list("group_id", flat=True))
    nearby = seeds | set(open_members.filter(group_id__in=old_group_ids).values_list("product_id", flat=True))
    pairs = list(_active_pairs(Q(product_low_id__in=nearby) | Q(product_high_id__in=nearby)))
    partners = {p for pair in pairs for p in (pair.product_low_id, pair.product_high_id)} - nearby
    grouped_elsewhere = set(
        open_members.filter(product_id__in=partners)
        .exclude(group_id__in=old_group_ids)
        .values_list("product_id", flat=True)
    )
    nearby |= partners - grouped_elsewhere
    pair_of = {
        (pair.product_low_id, pair.product_high_id): pair
        for pair in pairs
        if pair.product_low_id in nearby and pair.product_high_id in nearby
    }
    edges = {key: Edge(tier=int(Tier.from_code(p.tier)), similarity=p.similarity) for key, p in pair_of.items()}
    old_groups = {
        frozenset(m.product_id for m in group.members.all()): group
        for group in DuplicateGroup.objects.filter(pk__in=old_group_ids).prefetch_related("members")
    }
    groups = complete_linkage_groups(edges)
    categories = dict(
        Product.objects.filter(pk__in=[g.representative for g in groups]).values_list("pk", "category_id")
    )
    kept: list[tuple[Group, DuplicateGroup]] = []
    created: list[tuple[Group, DuplicateGroup]] = []
    for group in groups:
        fields = _group_fields(group, pair_of, category_id=categories.get(group.representative))
        old = old_groups.pop(frozenset(group.members), None)
        if old is None:
            created.append((group, DuplicateGroup(status=GroupStatus.OPEN, **fields)))
        else:
            DuplicateGroup.objects.filter(pk=old.pk).update(**fields)
            kept.append((group, old))
    DuplicateGroup.objects.filter(pk__in=[g.pk for g in old_groups.values()]).delete()
    # Bulk writes: a full-catalog scan regroups tens of thousands of groups at once.
    DuplicateGroup.objects.bulk_create([row for _, row in created], batch_size=2000)
    DuplicateGroupMember.objects.filter(group__in=[row for _, row in kept]).delete()
    members = [m for group, row in kept + created for m in _member_rows(group, row, pair_of)]
    DuplicateGroupMember.objects.bulk_create(members, batch_size=2000)
    return [row for _, row in kept + created]


def _active_pairs(condition: Q) -> Iterable[DuplicatePair]:
    return DuplicatePair.objects.filter(condition, product_low__is_active=True, product_high__is_active=True)


def _group_fields(
    group: Group, pairs: Mapping[tuple[int, int], DuplicatePair], *, category_id: int | None
) -> dict[str, object]:
    links = [pairs[pair_key(group.representative, member)] for member in group.members[1:]]
    return {
        "tier": min(Tier.from_code(pair.tier) for pair in links).code,
        "score": min(pair.similarity for pair in links),
        "representative_id": group.representative,
        "category_id": category_id,
    }


def _member_rows(
    group: Group, row: DuplicateGroup, pairs: Mapping[tuple[int, int], DuplicatePair]
) -> list[DuplicateGroupMember]:
    rep = group.representative
    members: list[DuplicateGroupMember] = []
    for member in group.members[1:]:
        pair = pairs[pair_key(rep, member)]
        member_image, rep_image = (
            (pair.image_low_id, pair.image_high_id) if member < rep else (pair.image_high_id, pair.image_low_id)
        )
        members.append(
            DuplicateGroupMember(
                group=row,
                product_id=member,
                image_id=member_image,
                representative_image_id=rep_image,
                tier=pair.tier,
                similarity=pair.similarity,
                phash_distance=pair.phash_distance,
            )
        )
    # The representative's row shows the photo its strongest link was found with.
    strongest = max(members, key=lambda member: member.similarity, default=None)
    shown_image = strongest.representative_image_id if strongest is not None else None
    members.insert(
        0,
        DuplicateGroupMember(
            group=row,
            product_id=rep,
            is_representative=True,
            image_id=shown_image,
            representative_image_id=shown_image,
            tier=Tier.EXACT.code,
            similarity=1.0,
        ),
    )
    return members
