"""The merchandiser views in Chromium: duplicate review, similarity matrix, catalog map."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import FloatRect, Page, expect

from tests.recommender.browser.conftest import Tab, save_screenshot

# django_db (not transactional): the catalogue is committed once by the package fixture, read by the server.
pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db]


def test_a_merchandiser_resolves_a_duplicate_group(merchandiser_tab: Tab, screenshot_dir: Path) -> None:
    page, site = merchandiser_tab.page, merchandiser_tab.site
    page.goto("/staff/duplicates/")

    # Given the re-listed copy and its original, side by side with their scores
    group = page.locator(".duplicate-group").filter(has=page.locator(f'[data-product-id="{site.copy_id}"]'))
    expect(group).to_have_count(1)
    expect(group.locator(".member")).to_have_count(2)
    expect(group.locator(f'.member[data-product-id="{site.original_id}"] .member-title')).to_have_text(site.title)
    expect(group).to_contain_text(re.compile(r"Similarity (0\.9\d\d|1\.000) to the representative"))
    save_screenshot(page, screenshot_dir, "duplicates")

    # When the merchandiser keeps the original and marks the group as duplicates
    group.locator(f'.member[data-product-id="{site.original_id}"]').get_by_label("Keep this one").check()
    group.get_by_role("button", name="Duplicates: keep the selected one").click()

    # Then the page shows the outcome, and the copy is gone from the storefront
    resolved = page.locator(".duplicate-group.resolved")
    expect(resolved.locator(".outcome")).to_have_text(
        f"Resolved as duplicates: kept “{site.title}”, 1 listing deactivated."
    )
    response = page.goto(f"/p/{site.copy_id}/")
    assert response is not None and response.status == 404
    merchandiser_tab.console.assert_clean(allow=(f"{site.url}/p/{site.copy_id}/",))


def test_a_merchandiser_compares_a_category_in_the_similarity_matrix(
    merchandiser_tab: Tab, screenshot_dir: Path
) -> None:
    page = merchandiser_tab.page
    page.goto("/staff/matrix/")

    option = page.locator("#matrix-category option").first
    count = int(re.search(r"\((\d+)\)$", option.inner_text()).group(1))  # type: ignore[union-attr]
    page.locator("#matrix-category").select_option(index=0)
    page.get_by_role("button", name="Compare").first.click()

    shown = min(count, 50)
    for space in ("visual", "semantic"):
        matrix = page.locator(f'section.matrix[data-space="{space}"]')
        expect(matrix.locator("tbody tr")).to_have_count(shown)
        expect(matrix.locator("thead img")).to_have_count(shown)
        diagonal = matrix.locator("tbody tr").evaluate_all(
            "rows => rows.map((row, i) => row.querySelectorAll('td')[i].dataset.value)"
        )
        assert diagonal == ["1.000"] * shown  # every product is identical to itself (halfvec rounding aside)
    save_screenshot(page, screenshot_dir, "matrix", full_page=True)
    merchandiser_tab.console.assert_clean()


def _first_point_under_pointer(page: Page, box: FloatRect) -> tuple[float, float] | None:
    """Sweep the pointer over the map, as a person would, until a point answers with its tooltip."""
    for row in range(1, 24):
        for column in range(1, 40):
            x, y = box["x"] + box["width"] * column / 40, box["y"] + box["height"] * row / 24
            page.mouse.move(x, y)
            if page.locator(".map-tooltip").is_visible():
                return x, y
    return None


def test_a_merchandiser_explores_the_catalog_map_and_opens_a_product(
    merchandiser_tab: Tab, screenshot_dir: Path
) -> None:
    page, site = merchandiser_tab.page, merchandiser_tab.site
    # A demo catalogue this small fits on screen at once: its points are drawn as their
    # photos, fetched for the points in view only
    with page.expect_response(re.compile(r"/staff/map/thumbnails/\?ids=")) as thumbnails:
        page.goto("/staff/map/")
    assert thumbnails.value.ok and len(thumbnails.value.json()["products"]) >= site.product_count - 1

    canvas = page.locator("#catalog-map")
    expect(canvas).to_have_attribute("data-ready", "true")
    # the map was built before the duplicate decision, so it holds every product then active
    assert int(canvas.get_attribute("data-count") or 0) >= site.product_count - 1
    expect(canvas).to_have_attribute("data-mode", "photos")
    expect(page.locator(".map-legend li").first).to_be_visible()
    # Keyboard: + zooms in around the centre of the view
    scale = float(canvas.get_attribute("data-scale") or 0)
    canvas.focus()
    page.keyboard.press("+")
    expect(canvas).not_to_have_attribute("data-scale", f"{scale:.5f}")
    assert float(canvas.get_attribute("data-scale") or 0) == pytest.approx(scale * 1.5, rel=1e-3)
    save_screenshot(page, screenshot_dir, "map")

    # Pointing at a point shows what it is; clicking it opens the product
    page.keyboard.press("0")  # back to the whole map
    box = canvas.bounding_box()
    assert box is not None
    tooltip = page.locator(".map-tooltip")
    spot = _first_point_under_pointer(page, box)
    assert spot is not None, "no point of the map answered the pointer"
    expect(tooltip).to_contain_text(re.compile(r"\w"))
    with page.expect_navigation(url=re.compile(r"/p/\d+/$")):
        page.mouse.click(*spot)
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    merchandiser_tab.console.assert_clean()
