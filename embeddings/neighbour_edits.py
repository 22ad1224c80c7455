"""The two edits the incremental update makes to stored lists: forget products, let products in.

Each comes in two forms. The general one unnests a list, merges, de-duplicates and
sorts it, so any number of products can leave or enter one list at once (a batch
whose products are each other's neighbours). That costs the database ~65 µs per
rewritten list (2 ms of the 11-16 ms an embedded photo cost one space at 100k). A
list that one product leaves or enters, the common case (every upload, every
re-embedded photo), is edited with array functions instead: array_position finds
the product, slices cut it out or splice it in at the place its similarity earns,
found by one count over the list. Both forms keep a list as every writer does:
nearest first, ties by product id, no product twice.

Call these inside the caller's transaction, under its advisory lock (embeddings.neighbours).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from django.db import connection

from embeddings.models import ProductNeighbours
from embeddings.selectors import ActiveEncoder

LISTS = ProductNeighbours._meta.db_table


def lists_forget(encoder: ActiveEncoder, product_ids: Sequence[int]) -> None:
    """Take `product_ids` out of the lists of their old neighbours (read from their own lists, still unchanged)."""
    old_neighbours = (
        f"SELECT DISTINCT unnest(o.neighbour_ids) AS id FROM {LISTS} o "
        "WHERE o.space = %s AND o.encoder = %s AND o.product_id = ANY(%s)"
    )
    if len(product_ids) == 1:
        # One product: it sits once in each list (a list holds no product twice), at array_position.
        new_lists = (
            "SELECT n.neighbour_ids[:x.at - 1] || n.neighbour_ids[x.at + 1:], "
            "n.similarities[:x.at - 1] || n.similarities[x.at + 1:] "
            "FROM (SELECT array_position(n.neighbour_ids, %s::bigint) AS at) x"
        )
        new_params: list[Any] = [product_ids[0]]
    else:
        new_lists = (
            "SELECT coalesce(array_agg(u.id ORDER BY u.o), '{}'), coalesce(array_agg(u.s ORDER BY u.o), '{}') "
            "FROM unnest(n.neighbour_ids, n.similarities) WITH ORDINALITY AS u(id, s, o) WHERE u.id <> ALL(%s)"
        )
        new_params = [list(product_ids)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {LISTS} n SET (neighbour_ids, similarities) = ({new_lists}), updated_at = now() "
            f"FROM ({old_neighbours}) old "
            "WHERE n.space = %s AND n.encoder = %s AND n.product_id = old.id AND n.neighbour_ids && %s::bigint[]",
            [
                *new_params,
                encoder.space,
                encoder.identity,
                list(product_ids),
                encoder.space,
                encoder.identity,
                list(product_ids),
            ],
        )


def lists_enter(encoder: ActiveEncoder, entries: Sequence[tuple[int, int, float]], *, size: int) -> None:
    """Let each (target, entrant, similarity) into the target's list where it beats the worst entry.

    An entrant already in the list (a stale entry, or one just written by step 2 of
    the update) takes its place by the new similarity. The list keeps `size` entries:
    the worst drops off.
    """
    per_target = Counter(target for target, _, _ in entries)
    single = [entry for entry in entries if per_target[entry[0]] == 1]
    several = [entry for entry in entries if per_target[entry[0]] > 1]
    if single:
        _enter_one_each(encoder, single, size=size)
    if several:
        _enter_merged(encoder, several, size=size)


def _columns(entries: Sequence[tuple[int, int, float]]) -> list[list[int] | list[float]]:
    return [[e[0] for e in entries], [e[1] for e in entries], [e[2] for e in entries]]


def _enter_one_each(encoder: ActiveEncoder, entries: Sequence[tuple[int, int, float]], *, size: int) -> None:
    """One entrant per target list: cut it out where it already is, count the entries that rank before it
    (higher similarity, or the same and a lower id), splice it in there, and keep the first `size`."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {LISTS} n SET (neighbour_ids, similarities) = (
                SELECT k.ids[:p.before] || c.entrant || k.ids[p.before + 1:%s - 1],
                       k.sims[:p.before] || c.similarity || k.sims[p.before + 1:%s - 1]
                FROM (
                    SELECT
                        CASE WHEN x.at IS NULL THEN n.neighbour_ids
                             ELSE n.neighbour_ids[:x.at - 1] || n.neighbour_ids[x.at + 1:] END AS ids,
                        CASE WHEN x.at IS NULL THEN n.similarities
                             ELSE n.similarities[:x.at - 1] || n.similarities[x.at + 1:] END AS sims
                    FROM (SELECT array_position(n.neighbour_ids, c.entrant) AS at) x
                ) k
                CROSS JOIN LATERAL (
                    SELECT count(*)::int AS before FROM unnest(k.ids, k.sims) AS u(id, s)
                    WHERE u.s > c.similarity OR (u.s = c.similarity AND u.id < c.entrant)
                ) p
            ), updated_at = now()
            FROM unnest(%s::bigint[], %s::bigint[], %s::real[]) AS c(target, entrant, similarity)
            WHERE n.space = %s AND n.encoder = %s AND n.product_id = c.target
              AND (cardinality(n.similarities) < %s OR n.similarities[%s] < c.similarity)
            """,
            [size, size, *_columns(entries), encoder.space, encoder.identity, size, size],
        )


def _enter_merged(encoder: ActiveEncoder, entries: Sequence[tuple[int, int, float]], *, size: int) -> None:
    """Several entrants per target list: all of one target's merged into it at once, by a sort."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {LISTS} n SET (neighbour_ids, similarities) = (
                SELECT array_agg(m.id ORDER BY m.s DESC, m.id), array_agg(m.s ORDER BY m.s DESC, m.id)
                FROM (
                    SELECT d.id, d.s FROM (
                        -- An entrant already listed takes its new similarity (entrants come first).
                        SELECT DISTINCT ON (u.id) u.id, u.s
                        FROM unnest(c.ids || n.neighbour_ids, c.sims || n.similarities) WITH ORDINALITY AS u(id, s, o)
                        ORDER BY u.id, u.o
                    ) d
                    ORDER BY d.s DESC, d.id LIMIT %s
                ) m
            ), updated_at = now()
            FROM (
                SELECT target, array_agg(entrant) AS ids, array_agg(similarity) AS sims
                FROM unnest(%s::bigint[], %s::bigint[], %s::real[]) AS e(target, entrant, similarity)
                GROUP BY target
            ) c
            WHERE n.space = %s AND n.encoder = %s AND n.product_id = c.target
              AND (cardinality(n.similarities) < %s OR n.similarities[%s] < (SELECT max(s) FROM unnest(c.sims) s))
            """,
            [size, *_columns(entries), encoder.space, encoder.identity, size, size],
        )
