"""Store-wide merchandising rules: refused when they name what the catalogue lacks, edited by merchandisers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.test import Client

from catalog.models import Category, Product
from recommender.merchandising.models import MerchandisingRule, RuleKind
from recommender.merchandising.rules import ScoreRule, store_rules
from recommender.merchandising.services import merchandising_rule_delete, merchandising_rule_save
from recommender.merchandising.targets import Target

pytestmark = pytest.mark.django_db


@pytest.fixture
def dresses() -> Category:
    category = Category.objects.create(slug="dresses", name="Dresses")
    Product.objects.create(sku="D-1", title="Dress", price=Decimal("10"), category=category, attributes={"season": "x"})
    return category


def save(**fields: Any) -> MerchandisingRule:
    return merchandising_rule_save(rule=MerchandisingRule(**fields))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": RuleKind.BOOST_FIELD, "field": "category", "value": "gowns", "amount": 0.1}, "value"),
        ({"kind": RuleKind.BOOST_FIELD, "field": "attr.fabric", "value": "silk", "amount": 0.1}, "field"),
        ({"kind": RuleKind.BOOST_FIELD, "field": "colour", "value": "red", "amount": 0.1}, "field"),
        ({"kind": RuleKind.BOOST_FIELD, "field": "brand", "value": "", "amount": 0.1}, "field"),
        ({"kind": RuleKind.BOOST_FIELD, "field": "brand", "value": "Acme", "amount": 1.5}, "amount"),
        ({"kind": RuleKind.BURY_OUT_OF_STOCK, "amount": 0.2}, "amount"),
        ({"kind": RuleKind.BOOST_NEW_ARRIVALS, "amount": 0.2}, "days"),
        ({"kind": RuleKind.EXCLUDE_CATEGORY_FROM_SIMILAR}, "source_category"),
    ],
    ids=["missing-category", "unknown-attribute", "no-such-field", "empty", "amount", "bury-up", "no-days", "half"],
)
def test_a_rule_that_could_not_work_is_refused_when_saved(
    dresses: Category, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        save(name="bad", **fields)

    assert field in refused.value.message_dict
    assert not MerchandisingRule.objects.exists()


def test_rules_naming_what_the_catalogue_has_are_stored_and_read_for_the_storefront(dresses: Category) -> None:
    other = Category.objects.create(slug="socks", name="Socks")
    save(name="Dresses up", kind=RuleKind.BOOST_FIELD, field="category", value="dresses", amount=0.2)
    save(name="Season", kind=RuleKind.BOOST_FIELD, field="attr.season", value="x", amount=0.1)
    save(name="No socks", kind=RuleKind.EXCLUDE_CATEGORY_FROM_SIMILAR, source_category=dresses, excluded_category=other)
    save(name="Off", kind=RuleKind.BURY_OUT_OF_STOCK, amount=-0.1, enabled=False)

    rules = store_rules()

    assert rules.score_rules == (
        ScoreRule(
            name="Dresses up",
            kind="boost_field",
            amount=0.2,
            target=Target("category", "dresses"),
            category_id=dresses.pk,
        ),
        ScoreRule(name="Season", kind="boost_field", amount=0.1, target=Target("attr.season", "x")),
    )
    assert rules.similar_exclusions == ((dresses.pk, other.pk),)


def test_deleting_a_rule_takes_it_out_at_once(dresses: Category) -> None:
    rule = save(name="Sold out last", kind=RuleKind.BURY_OUT_OF_STOCK, amount=-0.3)
    assert len(store_rules().score_rules) == 1

    merchandising_rule_delete(rule=rule)

    assert store_rules().score_rules == ()


@pytest.fixture
def staff_client(client: Client) -> Client:
    client.force_login(User.objects.create_user("merch", password="a-long-test-password", is_staff=True))
    return client


def test_staff_list_add_and_change_rules_in_the_admin(staff_client: Client, dresses: Category) -> None:
    rule = save(name="Sold out last", kind=RuleKind.BURY_OUT_OF_STOCK, amount=-0.3)

    changelist = staff_client.get("/admin/merchandising/merchandisingrule/")
    assert changelist.status_code == 200 and "Sold out last" in changelist.content.decode()
    assert staff_client.get("/admin/merchandising/merchandisingrule/add/").status_code == 200
    assert staff_client.get(f"/admin/merchandising/merchandisingrule/{rule.pk}/change/").status_code == 200

    form = {"name": "Dresses up", "kind": "boost_field", "enabled": "on", "amount": "0.2", "field": "category"}
    added = staff_client.post("/admin/merchandising/merchandisingrule/add/", {**form, "value": "dresses"})
    assert added.status_code == 302
    assert [r.name for r in store_rules().score_rules] == ["Dresses up", "Sold out last"]


def test_the_admin_refuses_a_rule_naming_a_missing_category_with_a_message(
    staff_client: Client, dresses: Category
) -> None:
    form = {"name": "Gowns up", "kind": "boost_field", "enabled": "on", "amount": "0.2", "field": "category"}

    response = staff_client.post("/admin/merchandising/merchandisingrule/add/", {**form, "value": "gowns"})

    assert response.status_code == 200
    assert "no category has the slug" in response.content.decode()
    assert not MerchandisingRule.objects.exists()


def test_shoppers_do_not_see_the_rules_admin(client: Client) -> None:
    client.force_login(User.objects.create_user("shopper", password="a-long-test-password"))

    assert client.get("/admin/merchandising/merchandisingrule/").status_code == 302
