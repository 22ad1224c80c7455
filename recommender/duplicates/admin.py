"""Django admin for duplicate review: groups side by side, with bulk decisions.

Django's admin only admits staff users, so a merchandiser who works here needs
is_staff as well as the 'merchandisers' group; the group (not model
permissions) is what grants these pages. Non-staff merchandisers use the API.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from catalog.admin import thumbnail_html
from config.roles import is_merchandiser
from recommender.duplicates.decisions import DecisionError, duplicate_group_resolve, duplicate_group_restore
from recommender.duplicates.models import Decision, DuplicateDecision, DuplicateGroup
from recommender.duplicates.selectors import group_members_prefetch


class DecisionInline(admin.TabularInline[DuplicateDecision, DuplicateGroup]):
    model = DuplicateDecision
    extra = 0
    can_delete = False
    fields = ["decision", "kept_product", "changed_product_ids", "decided_by", "decided_at"]
    readonly_fields = ["decision", "kept_product", "changed_product_ids", "decided_by", "decided_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(DuplicateGroup)
class DuplicateGroupAdmin(admin.ModelAdmin[DuplicateGroup]):
    list_display = ["id", "tier", "status", "score", "side_by_side", "category", "decided_by", "decided_at"]
    list_filter = ["status", "tier", "category"]
    list_select_related = ["category", "decided_by"]
    list_per_page = 25
    readonly_fields = [
        "tier",
        "status",
        "score",
        "side_by_side",
        "category",
        "kept_product",
        "decided_by",
        "decided_at",
        "created_at",
    ]
    fields = list(readonly_fields)
    inlines = [DecisionInline]
    actions = ["resolve_keep_representative", "resolve_not_duplicate", "restore"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[DuplicateGroup]:
        return super().get_queryset(request).prefetch_related(group_members_prefetch())

    @admin.display(description="members (representative first)")
    def side_by_side(self, group: DuplicateGroup) -> SafeString:
        cells = format_html_join(
            "",
            '<td style="vertical-align:top;padding:4px 8px;{}">{}<br><b>{}</b><br>{} {} · {}<br>'
            "{} · sim {} · pHash Δ {}{}</td>",
            (
                (
                    "border:2px solid #79aec8;" if member.is_representative else "",
                    thumbnail_html(member.image, 120) if member.image else "-",
                    member.product.title,
                    member.product.price,
                    member.product.currency,
                    member.product.seller or "no seller",
                    member.get_tier_display(),
                    f"{member.similarity:.3f}",
                    "-" if member.phash_distance is None else member.phash_distance,
                    "" if member.product.is_active else " · inactive",
                )
                for member in group.members.all()
            ),
        )
        return format_html("<table><tr>{}</tr></table>", cells)

    def _decide(self, request: HttpRequest, groups: QuerySet[DuplicateGroup], decide: Any, verb: str) -> None:
        done = 0
        for group in groups:
            try:
                decide(group)
                done += 1
            except DecisionError as error:
                self.message_user(request, f"group {group.pk}: {error.message}", messages.WARNING)
        self.message_user(request, f"{done} group(s) {verb}.", messages.SUCCESS)

    @admin.action(description="Duplicate: keep the representative, deactivate the others")
    def resolve_keep_representative(self, request: HttpRequest, groups: QuerySet[DuplicateGroup]) -> None:
        actor = request.user if request.user.is_authenticated else None
        self._decide(
            request,
            groups,
            lambda g: duplicate_group_resolve(
                group_id=g.pk, decision=Decision.DUPLICATE, keep_product_id=g.representative_id, actor=actor
            ),
            "resolved as duplicate",
        )

    @admin.action(description="Not a duplicate (remembered)")
    def resolve_not_duplicate(self, request: HttpRequest, groups: QuerySet[DuplicateGroup]) -> None:
        actor = request.user if request.user.is_authenticated else None
        self._decide(
            request,
            groups,
            lambda g: duplicate_group_resolve(
                group_id=g.pk, decision=Decision.NOT_DUPLICATE, keep_product_id=None, actor=actor
            ),
            "resolved as not duplicate",
        )

    @admin.action(description="Restore the listings a duplicate decision deactivated")
    def restore(self, request: HttpRequest, groups: QuerySet[DuplicateGroup]) -> None:
        actor = request.user if request.user.is_authenticated else None
        self._decide(request, groups, lambda g: duplicate_group_restore(group_id=g.pk, actor=actor), "restored")

    # The merchandisers group grants these pages, whatever the model permissions say.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_merchandiser(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_merchandiser(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_merchandiser(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
