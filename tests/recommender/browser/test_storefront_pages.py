"""The storefront in Chromium: text search, "More like this", search by photo, the product page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.recommender.browser.conftest import Tab, save_screenshot

# django_db (not transactional): the catalogue is committed once by the package fixture, read by the server.
pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db]


def test_a_shopper_searches_by_words_and_opens_more_like_this(shopper: Tab, screenshot_dir: Path) -> None:
    page, site = shopper.page, shopper.site
    # Given the storefront, which lists the demo catalogue with small thumbnails
    page.goto("/")
    total = int(re.search(r"\((\d+)\)", page.locator("#catalog-title").inner_text()).group(1))  # type: ignore[union-attr]
    assert total >= site.product_count - 1  # the duplicates test may have deactivated the re-listed copy
    expect(page.locator("#catalog .card")).to_have_count(min(total, 48))
    first_thumbnail = page.locator("#catalog .card img").first
    expect(first_thumbnail).to_have_attribute("src", re.compile(r"_160\.\w+$"))
    assert first_thumbnail.get_attribute("alt")
    save_screenshot(page, screenshot_dir, "storefront")

    # When the shopper types a phrase and presses Enter (keyboard only)
    page.get_by_label("Search by words").fill("dress")
    page.keyboard.press("Enter")

    # Then the closest products come back, dresses first, each with its scores on hover
    results = page.locator("#results .card")
    expect(page.locator("#results-title")).to_have_text("Closest to “dress”")
    expect(results.first).to_be_visible()
    top_titles = results.locator(".card-title").all_inner_texts()[:3]
    assert top_titles and all(title in site.dress_titles for title in top_titles[:1]), top_titles
    results.first.hover()
    expect(results.first.locator(".scores")).to_be_visible()
    expect(results.first.locator(".scores")).to_contain_text(re.compile(r"Semantic\s*\d\.\d{3}"))
    assert re.search(r"Semantic \d\.\d{3}", results.first.get_attribute("title") or "")
    save_screenshot(page, screenshot_dir, "search")

    # When they ask for more like the first result
    chosen = top_titles[0]
    results.first.get_by_role("button", name="More like this").click()

    # Then the dialog shows its nearest neighbours (never itself), and switches space on demand
    dialog = page.locator("#neighbours")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#neighbours-title")).to_have_text(f"Products like “{chosen}”")
    expect(dialog.locator(".card").first).to_be_visible()
    neighbour_ids = dialog.locator(".card").evaluate_all("cards => cards.map(c => c.dataset.productId)")
    source_id = results.first.get_attribute("data-product-id")
    assert source_id not in neighbour_ids and len(neighbour_ids) >= 5
    dialog.get_by_role("button", name="Visual").click()
    expect(dialog.get_by_role("button", name="Visual")).to_have_attribute("aria-pressed", "true")
    expect(dialog.locator(".card").first).to_have_attribute("title", re.compile(r"Visual \d\.\d{3}"))
    save_screenshot(page, screenshot_dir, "neighbours")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    shopper.console.assert_clean()


def test_a_shopper_searches_by_photo_and_finds_the_product_it_shows(shopper: Tab) -> None:
    page, site = shopper.page, shopper.site
    page.goto("/")

    page.locator("#photo").set_input_files(str(site.photo))

    expect(page.locator("#results-title")).to_have_text("Closest to your photo")
    expect(page.locator("[data-query-preview] img")).to_have_attribute("alt", "The photo you searched with")
    first = page.locator("#results .card").first
    expect(first.locator(".card-title")).to_have_text(site.photo_title)
    assert re.search(r"Visual (0\.9\d\d|1\.000)", first.get_attribute("title") or "")
    shopper.console.assert_clean()


def test_a_product_page_shows_photos_and_more_like_this_per_space(shopper: Tab, screenshot_dir: Path) -> None:
    page, site = shopper.page, shopper.site
    page.goto(f"/p/{site.original_id}/")

    expect(page.get_by_role("heading", level=1)).to_have_text(site.title)
    expect(page.locator("[data-main-photo]")).to_have_attribute("src", re.compile(r"_480\.\w+$"))
    row = page.locator("#more-like-this .card")
    expect(row.first).to_be_visible()
    assert re.search(r"Combined \d\.\d{3}", row.first.get_attribute("title") or "")
    for mode in ("Visual", "Semantic", "Hybrid"):
        page.locator("#more-like-this").get_by_role("button", name=mode).click()
        expect(page.locator("#more-like-this").get_by_role("button", name=mode)).to_have_attribute(
            "aria-pressed", "true"
        )
        expect(row.first).to_be_visible()
    save_screenshot(page, screenshot_dir, "product", full_page=True)

    # Clicking a product photo anywhere opens its nearest neighbours
    page.locator("[data-main-photo]").click()
    expect(page.locator("#neighbours .card").first).to_be_visible()
    shopper.console.assert_clean()


def test_an_api_error_shows_a_readable_message_not_a_blank_page(shopper: Tab) -> None:
    page = shopper.page
    page.goto("/")

    page.get_by_label("Search by words").fill("very long words " * 20)  # longer than the API accepts
    page.keyboard.press("Enter")

    alert = page.locator("#results [role=alert]")
    expect(alert).to_have_text(re.compile(r"^Could not search: q: must be at most \d+ characters\.$"))
    expect(page.locator("#results-title")).to_be_visible()
    # The 400 is logged by Chromium as a failed resource; that one is expected here.
    shopper.console.assert_clean(allow=("status of 400",))
