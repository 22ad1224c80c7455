"""A live catalogue of the one-app layout upgrades in place: no table dropped or renamed, no row lost.

The old schema is rebuilt for real in a scratch database on the same server:
every app but the three new ones migrated by today's code (catalog only up to
OLD_CATALOG, so that an upgrade also adds the photos' turned pHashes), then the recommender
app's tables created by the exact SQL the old migrations ran
(fixtures/one_app_layout.sql), its two migrations recorded as applied and its
content types under the old `recommender` label (with a permission granted on
one). Then `manage.py migrate`, as an upgrade would run it.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from psycopg import sql

from tests.fixtures_worker import REPO_ROOT, child_process_env

LEGACY_SCHEMA = Path(__file__).parent / "fixtures" / "one_app_layout.sql"
OLD_APPS = ("admin", "auth", "authtoken", "contenttypes", "sessions", "catalog", "embeddings")
DATABASE = "lookalike_legacy_layout_test"
# The models whose content types the duplicates app adopts (its migration's own list).
DUPLICATE_MODELS: tuple[str, ...] = importlib.import_module(
    "recommender.duplicates.migrations.0002_adopt_content_types"
).MODELS
# Apps installed since the one-app layout, whose migrations create tables of their own.
NEWER_APPS = {"axes", "feedback", "fanout", "merchandising"}
LOG_ID = uuid.UUID("5b2f0c1e-2f8e-4c1a-9d1f-5b0e7a1c9e42")
# The last catalog migration before photos kept their turned pHashes (0006): the upgrade adds them to live rows.
OLD_CATALOG = "0005_field_validators"


def conninfo(name: str) -> str:
    db = connection.settings_dict
    return psycopg.conninfo.make_conninfo(
        dbname=name, user=db["USER"], host=db["HOST"] or None, port=db["PORT"] or None, password=db["PASSWORD"] or None
    )


def manage(*args: str) -> str:
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}@/{DATABASE}?host={db['HOST']}&port={db['PORT']}"
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=child_process_env(DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.fixture
def scratch_database() -> Iterator[psycopg.Connection]:
    with psycopg.connect(conninfo("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
        try:
            with psycopg.connect(conninfo(DATABASE), autocommit=True) as scratch:
                yield scratch
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE)))


def build_the_old_layout(db: psycopg.Connection) -> None:
    for app in OLD_APPS:
        manage("migrate", app, *([OLD_CATALOG] if app == "catalog" else []), "--no-input")
    db.execute(LEGACY_SCHEMA.read_text())
    db.execute(
        "INSERT INTO django_migrations (app, name, applied) VALUES "
        "('recommender', '0001_initial', now()), ('recommender', '0002_recommendationlog', now())"
    )
    # The old app's content types, and a permission on one of them granted to a group.
    models = [*DUPLICATE_MODELS, "recommendationlog"]
    db.execute("INSERT INTO django_content_type (app_label, model) SELECT 'recommender', unnest(%s::text[])", [models])
    db.execute(
        "INSERT INTO auth_permission (name, content_type_id, codename) SELECT 'Can change duplicate group', id, "
        "'change_duplicategroup' FROM django_content_type WHERE app_label = 'recommender' AND model = 'duplicategroup'"
    )
    db.execute("INSERT INTO auth_group (name) VALUES ('reviewers')")
    db.execute(
        "INSERT INTO auth_group_permissions (group_id, permission_id) SELECT g.id, p.id FROM auth_group g, "
        "auth_permission p JOIN django_content_type ct ON ct.id = p.content_type_id "
        "WHERE g.name = 'reviewers' AND ct.app_label = 'recommender' AND p.codename = 'change_duplicategroup'"
    )
    # Rows of a live catalogue: two products, a duplicate pair, its group, a served list.
    db.execute(
        "INSERT INTO catalog_product (id, sku, title, description, brand, price, currency, stock, attributes, "
        "product_group, seller, is_active, created_at, updated_at) VALUES "
        "(1, 'A', 'Red dress', '', '', 10, 'EUR', 1, '{}', '', '', true, now(), now()), "
        "(2, 'B', 'Red dress', '', '', 9, 'EUR', 1, '{}', '', '', true, now(), now())"
    )
    db.execute(
        "INSERT INTO catalog_productimage (id, product_id, file, sha256, width, height, source, position, "
        "thumbnails, embedding_status, embedding_error, version, created_at, updated_at) VALUES "
        "(10, 1, 'a.jpg', 'aa', 8, 8, '', 0, '{}', 'done', '', 1, now(), now()), "
        "(20, 2, 'b.jpg', 'bb', 8, 8, '', 0, '{}', 'done', '', 1, now(), now())"
    )
    db.execute(
        "INSERT INTO recommender_duplicatepair (id, tier, similarity, phash_distance, same_bytes, encoder, "
        "detected_at, image_high_id, image_low_id, product_high_id, product_low_id) "
        "VALUES (7, 'near_duplicate', 0.93, 4, false, 'e@1', now(), 20, 10, 2, 1)"
    )
    db.execute(
        "INSERT INTO recommender_duplicategroup (id, tier, status, score, created_at, updated_at, representative_id) "
        "VALUES (3, 'near_duplicate', 'open', 0.93, now(), now(), 1)"
    )
    db.execute(
        "INSERT INTO recommender_recommendationlog (id, endpoint, params, product_ids, strategy, created_at) "
        "VALUES (%s, 'similar', '{}', '{2}', 'hnsw', now())",
        [LOG_ID],
    )


def tables(db: psycopg.Connection) -> set[str]:
    rows = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    return {row[0] for row in rows}


@pytest.mark.django_db
def test_the_one_app_layout_migrates_in_place_keeping_tables_rows_and_permissions(
    scratch_database: psycopg.Connection,
) -> None:
    db = scratch_database
    build_the_old_layout(db)
    before = tables(db)

    manage("migrate", "--no-input")

    # No table dropped or renamed (the only new ones belong to apps the old layout did not have);
    # every row where it was.
    after = tables(db)
    assert before <= after
    assert {table.split("_", 1)[0] for table in after - before} <= NEWER_APPS
    assert db.execute("SELECT id, similarity FROM recommender_duplicatepair").fetchall() == [(7, 0.93)]
    assert db.execute("SELECT id, representative_id FROM recommender_duplicategroup").fetchall() == [(3, 1)]
    assert db.execute("SELECT id FROM recommender_recommendationlog").fetchall() == [(LOG_ID,)]
    # Photos stored before catalog 0006 have no turned pHashes yet, and the pHash chunks are indexed.
    assert db.execute("SELECT id, phash_turns FROM catalog_productimage ORDER BY id").fetchall() == [(10, []), (20, [])]
    chunk_indexes = db.execute("SELECT count(*) FROM pg_indexes WHERE indexname LIKE 'image_phash_chunk_%%'")
    assert chunk_indexes.fetchone() == (5,)
    # The new apps' first migrations count as applied (they replace the old ones); the adoptions ran.
    applied = set(db.execute("SELECT app, name FROM django_migrations").fetchall())
    assert {
        ("duplicates", "0001_initial"),
        ("duplicates", "0002_adopt_content_types"),
        ("storefront", "0001_initial"),
        ("storefront", "0002_adopt_content_types"),
    } <= applied
    # Content types moved to the new labels, and the permission granted on the old one still holds.
    labels: dict[str, str] = dict(
        db.execute("SELECT model, app_label FROM django_content_type WHERE model LIKE 'duplicate%%'")
    )
    assert labels == dict.fromkeys(DUPLICATE_MODELS, "duplicates")
    assert db.execute("SELECT app_label FROM django_content_type WHERE model = 'recommendationlog'").fetchall() == [
        ("storefront",)
    ]
    assert db.execute("SELECT count(*) FROM django_content_type WHERE app_label = 'recommender'").fetchone() == (0,)
    granted = db.execute(
        "SELECT ct.app_label, p.codename FROM auth_group_permissions gp JOIN auth_group g ON g.id = gp.group_id "
        "JOIN auth_permission p ON p.id = gp.permission_id JOIN django_content_type ct ON ct.id = p.content_type_id "
        "WHERE g.name = 'reviewers'"
    ).fetchall()
    assert granted == [("duplicates", "change_duplicategroup")]
    # And the models agree with the schema: nothing left for makemigrations to write.
    assert "No changes detected" in manage("makemigrations", "--check", "--dry-run")
