"""Read-only admin views of the events and the popularity table (what they hold is written by the API and beat)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone

from recommender.feedback import decay
from recommender.feedback.models import Event, ProductPopularity


class ReadOnlyAdmin(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "event_type", "product_id", "recommendation_id", "client_id", "created_at"]
    list_filter = ["event_type"]
    search_fields = ["=client_id", "=product__id", "=recommendation_id"]
    # The table grows by every shopper action: no COUNT(*) over it on each page.
    show_full_result_count = False
    date_hierarchy = "created_at"


@admin.register(ProductPopularity)
class ProductPopularityAdmin(ReadOnlyAdmin):
    list_display = ["product_id", "product", "score_now", "updated_at"]
    list_select_related = ["product"]
    ordering = ["-log_score"]

    @admin.display(description="score now (decayed clicks)", ordering="-log_score")
    def score_now(self, row: ProductPopularity) -> str:
        half_life = settings.FEEDBACK_POPULARITY_HALF_LIFE_HOURS
        return f"{decay.current_score(row.log_score, now=timezone.now(), half_life_hours=half_life):.2f}"
