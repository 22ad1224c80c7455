"""Writes for merchandisers' decisions on duplicate groups: resolve and restore.

A decision and its effects (deactivating listings, remembering a "not
duplicate") commit together or not at all, under the duplicates write lock
(services.duplicates_lock) so a regroup cannot interleave with them. The
group row is also locked (`select_for_update`) so two merchandisers deciding
the same group at once get one decision and one "already resolved".
"""

from __future__ import annotations

from datetime import datetime
from itertools import combinations

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from catalog.models import Product
from recommender.duplicates import selectors
from recommender.duplicates.models import (
    Decision,
    DuplicateDecision,
    DuplicateDismissal,
    DuplicateGroup,
    DuplicatePair,
    GroupStatus,
)
from recommender.duplicates.services import duplicate_groups_refresh, duplicates_lock


class DecisionError(Exception):
    """A decision that cannot be applied; `code` is stable for API clients."""

    def __init__(self, code: str, message: str, *, details: dict[str, object] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


def _locked_group(group_id: int, *, status: str, code: str, problem: str) -> DuplicateGroup:
    """The group, row-locked, provided it is in `status`; otherwise DecisionError(code, problem)."""
    group = DuplicateGroup.objects.select_for_update().filter(pk=group_id).first()
    if group is None:
        raise DecisionError("not_found", f"Duplicate group {group_id} does not exist (it may have been regrouped).")
    if group.status != status:
        raise DecisionError(
            code, f"Group {group_id} {problem} (it is {group.status}).", details={"status": group.status}
        )
    return group


def duplicate_group_resolve(
    *, group_id: int, decision: str, keep_product_id: int | None, actor: User | None
) -> DuplicateGroup:
    """Apply "duplicate" (keep one listing, deactivate the others) or "not_duplicate" (remember it)."""
    if decision not in (Decision.DUPLICATE, Decision.NOT_DUPLICATE):
        raise DecisionError("invalid", f"decision must be 'duplicate' or 'not_duplicate', got {decision!r}.")
    with transaction.atomic():
        duplicates_lock()
        group = _locked_group(group_id, status=GroupStatus.OPEN, code="already_resolved", problem="is already resolved")
        product_ids = sorted(group.members.values_list("product_id", flat=True))
        now = timezone.now()
        changed: list[int] = []
        if decision == Decision.DUPLICATE:
            if keep_product_id not in product_ids:
                raise DecisionError(
                    "invalid_keep",
                    "keep must be the id of one of the group's products.",
                    details={"keep": keep_product_id, "product_ids": product_ids},
                )
            others = [pid for pid in product_ids if pid != keep_product_id]
            # Lock the rows, then change only those still active: a listing already
            # hidden for another reason must not be "restored" by this group later.
            changed = list(
                Product.objects.select_for_update().filter(pk__in=others, is_active=True).values_list("pk", flat=True)
            )
            Product.objects.filter(pk__in=changed).update(is_active=False, updated_at=now)
            group.members.filter(product_id__in=changed).update(deactivated=True)
            group.status = GroupStatus.DUPLICATE
            group.kept_product_id = keep_product_id
        else:
            _remember_not_duplicate(product_ids, actor=actor, at=now)
            group.status = GroupStatus.NOT_DUPLICATE
            group.kept_product_id = None
        group.decided_by = actor if actor is not None and actor.pk else None
        group.decided_at = now
        group.save(update_fields=["status", "kept_product", "decided_by", "decided_at", "updated_at"])
        DuplicateDecision.objects.create(
            group=group,
            decision=decision,
            kept_product_id=group.kept_product_id,
            changed_product_ids=sorted(changed),
            decided_by=group.decided_by,
        )
        # Pairs these products had with listings outside the group can now form groups of their own.
        duplicate_groups_refresh(product_ids=product_ids)
    return group


def _remember_not_duplicate(product_ids: list[int], *, actor: User | None, at: datetime) -> None:
    digests = selectors.product_photo_digests(product_ids)
    keys = list(combinations(sorted(product_ids), 2))
    rows = [
        DuplicateDismissal(
            product_low_id=low,
            product_high_id=high,
            photos_low_digest=digests.get(low, ""),
            photos_high_digest=digests.get(high, ""),
            decided_by=actor if actor is not None and actor.pk else None,
            decided_at=at,
        )
        for low, high in keys
    ]
    DuplicateDismissal.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["product_low", "product_high"],
        update_fields=["photos_low_digest", "photos_high_digest", "decided_by", "decided_at"],
    )
    in_group = Q(pk__in=[])
    for low, high in keys:
        in_group |= Q(product_low_id=low, product_high_id=high)
    DuplicatePair.objects.filter(in_group).delete()


def duplicate_group_restore(*, group_id: int, actor: User | None) -> DuplicateGroup:
    """Undo a "duplicate" decision: reactivate the listings it deactivated and reopen the group."""
    with transaction.atomic():
        duplicates_lock()
        group = _locked_group(
            group_id, status=GroupStatus.DUPLICATE, code="not_restorable", problem="was not resolved as duplicate"
        )
        hidden = list(group.members.filter(deactivated=True).values_list("product_id", flat=True))
        changed = list(
            Product.objects.select_for_update().filter(pk__in=hidden, is_active=False).values_list("pk", flat=True)
        )
        Product.objects.filter(pk__in=changed).update(is_active=True, updated_at=timezone.now())
        group.members.update(deactivated=False)
        group.status = GroupStatus.OPEN
        group.kept_product_id = None
        group.decided_by = None
        group.decided_at = None
        group.save(update_fields=["status", "kept_product", "decided_by", "decided_at", "updated_at"])
        DuplicateDecision.objects.create(
            group=group,
            decision=Decision.RESTORE,
            changed_product_ids=sorted(changed),
            decided_by=actor if actor is not None and actor.pk else None,
        )
        duplicate_groups_refresh(product_ids=group.members.values_list("product_id", flat=True))
    return group
