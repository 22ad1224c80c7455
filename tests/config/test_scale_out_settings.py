"""Bad scale-out settings (replicas, object storage, worker queues) end manage.py with one line naming the variable."""

from __future__ import annotations

from tests.config.test_bad_configuration import assert_one_line_error, run_manage


def test_a_replica_url_that_is_not_postgresql_is_one_line_naming_the_variable() -> None:
    result = run_manage("migrate", "--check", DATABASE_REPLICA_URLS="postgresql://r1@db1/shop,mysql://r2@db2/shop")
    assert_one_line_error(result, "DATABASE_REPLICA_URLS", "postgres://")


def test_a_read_your_writes_window_shorter_than_the_lag_it_must_cover_is_refused() -> None:
    result = run_manage(
        "migrate",
        "--check",
        DATABASE_REPLICA_URLS="postgresql://r1@127.0.0.1:9/shop",
        DATABASE_REPLICA_MAX_LAG="30",
        DATABASE_REPLICA_PIN_SECONDS="10",
    )
    assert_one_line_error(result, "DATABASE_REPLICA_PIN_SECONDS", "DATABASE_REPLICA_MAX_LAG")


def test_a_lag_limit_that_is_no_number_is_one_line() -> None:
    result = run_manage(
        "migrate", "--check", DATABASE_REPLICA_URLS="postgresql://r1@127.0.0.1:9/shop", DATABASE_REPLICA_MAX_LAG="soon"
    )
    assert_one_line_error(result, "DATABASE_REPLICA_MAX_LAG")


def test_s3_media_without_a_bucket_is_one_line_naming_it() -> None:
    result = run_manage("migrate", "--check", MEDIA_STORAGE="s3", AWS_STORAGE_BUCKET_NAME="")
    assert_one_line_error(result, "AWS_STORAGE_BUCKET_NAME")


def test_an_unknown_media_storage_is_one_line_listing_the_choices() -> None:
    result = run_manage("migrate", "--check", MEDIA_STORAGE="ftp")
    assert_one_line_error(result, "MEDIA_STORAGE", "filesystem, s3")


def test_an_unknown_worker_queue_is_one_line_listing_the_queues() -> None:
    result = run_manage("migrate", "--check", WORKER_QUEUES="embeddings,gpu")
    assert_one_line_error(result, "WORKER_QUEUES", "embeddings, default")
