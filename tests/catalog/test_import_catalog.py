"""`manage.py import_catalog`: CSV and JSON Lines, failures summarised, resumable after a kill."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Product, ProductImage
from tests.catalog import factories
from tests.fixtures_worker import REPO_ROOT, child_process_env, wait_for


def write_photos(directory: Path, count: int, *, size: tuple[int, int] = (96, 64)) -> list[str]:
    names = []
    for seed in range(count):
        name = f"photo-{seed}.jpg"
        (directory / name).write_bytes(factories.jpeg(seed, size))
        names.append(name)
    return names


@pytest.mark.django_db
def test_it_imports_json_lines_and_csv_with_categories_attributes_and_photos(tmp_path: Path) -> None:
    photos = write_photos(tmp_path, 3)
    (tmp_path / "a.jsonl").write_text(
        json.dumps(
            {
                "sku": "J-1",
                "title": "Linen shirt",
                "price": "29.50",
                "category": "Shirts",
                "attributes": {"colour": "white"},
                "images": photos[:2],
            }
        )
        + "\n"
    )
    (tmp_path / "b.csv").write_text(
        'sku,title,price,stock,category,attributes,images\nC-1,Canvas bag,15,4,Bags,"{""size"": ""L""}",'
        f"{photos[2]}\n"
    )

    call_command("import_catalog", str(tmp_path / "a.jsonl"), "--no-progress")
    call_command("import_catalog", str(tmp_path / "b.csv"), "--no-progress")

    shirt, bag = Product.objects.get(sku="J-1"), Product.objects.get(sku="C-1")
    assert (shirt.category.slug, shirt.attributes, shirt.images.count()) == ("shirts", {"colour": "white"}, 2)  # type: ignore[union-attr]
    assert (str(bag.price), bag.stock, bag.attributes, bag.images.count()) == ("15.00", 4, {"size": "L"}, 1)
    assert sorted(ProductImage.objects.values_list("source", flat=True)) == sorted(photos)


@pytest.mark.django_db
def test_it_imports_what_it_can_and_summarises_what_failed_and_why(tmp_path: Path, capsys: object) -> None:
    (tmp_path / "good.jpg").write_bytes(factories.jpeg(1))
    (tmp_path / "notes.jpg").write_text("this is text")
    rows = [
        {"sku": "OK-1", "title": "Fine", "price": "1", "images": ["good.jpg", "gone.jpg", "notes.jpg"]},
        {"sku": "BAD-1", "title": "Free?", "price": "abc", "images": []},
        {"sku": "URL-1", "title": "Remote", "price": "2", "images": ["http://127.0.0.1:9/x.jpg"]},
    ]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + "{broken\n")

    with pytest.raises(CommandError, match="5 rows or photos failed"):
        call_command("import_catalog", str(path), "--no-progress")

    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "no such file" in out and "gone.jpg" in out
    assert "notes.jpg: The file is not a usable image" in out
    assert 'line 2 "BAD-1": product: price' in out
    assert "127.0.0.1 resolves to 127.0.0.1, a private or local address" in out
    assert "line 4" in out and "invalid JSON" in out
    assert list(Product.objects.get(sku="OK-1").images.values_list("source", flat=True)) == ["good.jpg"]


@pytest.mark.django_db
def test_a_malformed_row_fails_alone_and_paths_outside_the_feeds_folder_are_not_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    feed = tmp_path / "feed"
    feed.mkdir()
    (feed / "ok.jpg").write_bytes(factories.jpeg(2))
    (tmp_path / "secret.jpg").write_bytes(factories.jpeg(3))  # beside the feed's folder, not in it
    rows = [
        {"sku": "IMG-5", "title": "Five", "price": "1", "images": 5},
        {"sku": "NUL-1", "title": "Bad\u0000title", "price": "1", "images": []},
        {"sku": "DEEP-1", "title": "Deep", "price": "1", "attributes": {"a": {"b": {"c": {"d": {"e": 1}}}}}},
        {"sku": "ESCAPE-1", "title": "Escape", "price": "1", "images": ["../secret.jpg", str(tmp_path / "secret.jpg")]},
        {"sku": "FINE-1", "title": "Fine", "price": "1", "images": ["ok.jpg"]},
    ]
    path = feed / "rows.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))

    with pytest.raises(CommandError, match="5 rows or photos failed"):
        call_command("import_catalog", str(path), "--no-progress")

    out = capsys.readouterr().out
    assert 'line 1 "IMG-5": product: images must be a list of paths or URLs' in out
    assert 'line 2 "NUL-1": product: title: Null characters are not allowed.' in out
    assert 'line 3 "DEEP-1": product: attributes: must not nest deeper than 4 levels.' in out
    assert out.count("outside the feed's folder") == 2
    # The good row is in; the malformed ones left nothing behind; the escaping paths were never read.
    assert list(Product.objects.values_list("sku", flat=True).order_by("sku")) == ["ESCAPE-1", "FINE-1"]
    assert not ProductImage.objects.filter(product__sku="ESCAPE-1").exists()
    assert list(Product.objects.get(sku="FINE-1").images.values_list("source", flat=True)) == ["ok.jpg"]


@pytest.mark.django_db(transaction=True)
def test_an_interrupted_import_resumes_without_duplicates(tmp_path: Path, capsys: object) -> None:
    photos = write_photos(tmp_path, 60, size=(640, 480))
    rows = [
        {"sku": f"R-{n:03d}", "title": f"Product {n}", "price": "9.99", "images": photos[2 * n : 2 * n + 2]}
        for n in range(30)
    ]
    path = tmp_path / "catalog.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    child = subprocess.Popen(
        [sys.executable, "manage.py", "import_catalog", str(path), "--no-progress"],
        cwd=REPO_ROOT,
        env=child_process_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: ProductImage.objects.count() >= 9, timeout=120, interval=0.05, what="the import to start")
    finally:
        child.kill()  # SIGKILL: mid-row, possibly mid-photo
        child.wait()
    interrupted_at = ProductImage.objects.count()
    assert interrupted_at < 60, "the import finished before it could be interrupted"

    call_command("import_catalog", str(path), "--no-progress")
    call_command("import_catalog", str(path), "--no-progress")

    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert out.splitlines()[-1] == "products created: 0, photos added: 0, already done: 60"
    assert Product.objects.count() == 30
    assert ProductImage.objects.count() == 60
    for product in Product.objects.all():
        assert sorted(product.images.values_list("source", flat=True)) == sorted(
            photos[2 * int(product.sku[2:]) : 2 * int(product.sku[2:]) + 2]
        )
