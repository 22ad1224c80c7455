"""Groups of duplicate candidates that do not chain (pure Python, no Django).

Single linkage (connected components) would let A~B and B~C pull A and C
into one group however unlike they are; one public tool produced clusters
whose members were 0.82 apart at a 0.97 threshold that way. Here groups are
built by greedy complete linkage: pairs are taken strongest first, and two
groups merge only if *every* member of one is a candidate pair of *every*
member of the other. So each group is a clique, and in particular every
member is within the threshold of the representative.

A pair whose products end up in different groups is not lost: it is stored,
and when one of those groups is resolved its members are regrouped with
their remaining pairs (services.duplicate_groups_refresh).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# A clique larger than this is almost always a stock photo or a placeholder
# image shared by many listings; reviewing it in pieces is easier.
MAX_GROUP_SIZE = 50


@dataclass(frozen=True)
class Edge:
    tier: int  # thresholds.Tier value: higher is stronger
    similarity: float


@dataclass(frozen=True)
class Group:
    representative: int
    members: tuple[int, ...]  # the representative first, then the others by product id


def pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def complete_linkage_groups(edges: Mapping[tuple[int, int], Edge], *, max_size: int = MAX_GROUP_SIZE) -> list[Group]:
    """Partition the products of `edges` into cliques (groups of at least two)."""
    group_of: dict[int, list[int]] = {}
    ordered = sorted(edges.items(), key=lambda item: (-item[1].tier, -item[1].similarity, item[0]))
    for (a, b), _edge in ordered:
        group_a = group_of.get(a, [a])
        group_b = group_of.get(b, [b])
        if group_a is group_b or len(group_a) + len(group_b) > max_size:
            continue
        if not all(pair_key(x, y) in edges for x in group_a for y in group_b):
            continue
        merged = group_a + group_b
        for product in merged:
            group_of[product] = merged
    seen: set[int] = set()
    groups: list[Group] = []
    for members in group_of.values():
        if id(members) in seen:
            continue
        seen.add(id(members))
        groups.append(_with_representative(members, edges))
    return sorted(groups, key=lambda group: group.members)


def _with_representative(members: Iterable[int], edges: Mapping[tuple[int, int], Edge]) -> Group:
    """The member most like all the others; ties go to the oldest listing (lowest id)."""
    ids = sorted(members)

    def centrality(product: int) -> tuple[float, int]:
        total = sum(edges[pair_key(product, other)].similarity for other in ids if other != product)
        return (total, -product)

    representative = max(ids, key=centrality)
    return Group(representative=representative, members=(representative, *(p for p in ids if p != representative)))
