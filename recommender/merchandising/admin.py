"""The store-wide merchandising rules in the admin: merchandisers (staff) add, change and delete them.

The form runs MerchandisingRule.clean() (a missing category or attribute is
refused with a message on the field); saving and deleting go through the
services, which make the rule take effect in this process at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest

from config.roles import is_merchandiser
from recommender.merchandising.models import MerchandisingRule, RuleKind
from recommender.merchandising.services import merchandising_rule_delete, merchandising_rule_save


@admin.register(MerchandisingRule)
class MerchandisingRuleAdmin(admin.ModelAdmin[MerchandisingRule]):
    list_display = ["name", "kind", "enabled", "amount", "applies_to", "updated_at"]
    list_filter = ["kind", "enabled"]
    list_editable = ["enabled"]
    list_select_related = ["source_category", "excluded_category"]
    search_fields = ["name", "value"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled", "amount"]}),
        ("New arrivals", {"fields": ["days"]}),
        ("Boost a field", {"fields": ["field", "value"]}),
        ("Exclusion from 'more like this'", {"fields": ["source_category", "excluded_category"]}),
    ]

    @admin.display(description="applies to")
    def applies_to(self, rule: MerchandisingRule) -> str:
        if rule.kind == RuleKind.BOOST_NEW_ARRIVALS:
            return f"created in the last {rule.days} days"
        if rule.kind == RuleKind.BOOST_FIELD:
            return f"{rule.field} = {rule.value}"
        if rule.kind == RuleKind.EXCLUDE_CATEGORY_FROM_SIMILAR:
            return f"{rule.excluded_category} out of similar to {rule.source_category}"
        return "out of stock"

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_merchandiser(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_merchandiser(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_merchandiser(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_merchandiser(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_merchandiser(request.user)

    def save_model(self, request: HttpRequest, obj: MerchandisingRule, form: ModelForm[Any], change: bool) -> None:
        merchandising_rule_save(rule=obj)

    def delete_model(self, request: HttpRequest, obj: MerchandisingRule) -> None:
        merchandising_rule_delete(rule=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[MerchandisingRule]) -> None:
        for rule in queryset:  # a handful of rules: one service call each
            merchandising_rule_delete(rule=rule)
