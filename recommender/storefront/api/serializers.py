"""Response shapes, shared by every storefront endpoint so a frontend renders them with one component."""

from __future__ import annotations

from rest_framework import serializers

from recommender.storefront.selectors.prior import POPULARITY_PRIOR_HALF_SCORE
from recommender.storefront.selectors.scoring import MATCH_RULES


class ScoresSerializer(serializers.Serializer):
    visual = serializers.FloatField(allow_null=True, help_text="Cosine similarity in the visual space.")
    semantic = serializers.FloatField(allow_null=True, help_text="Cosine similarity in the semantic space.")
    text = serializers.FloatField(
        allow_null=True,
        help_text="Search only, for a product whose words match: 2 when every word of the query matched its "
        "title, description or brand, 1 when some did; + 0.5 when they matched as whole words (not only as a "
        'part of a hyphenated compound, "shirt" in "T-shirt"); + rank / 2 (rank = ts_rank_cd / (1 + ts_rank_cd)).',
    )
    combined = serializers.FloatField(
        help_text="The score results are ordered by. Search: the match tier (text without its rank part: 2.5, 2, "
        "1.5, 1, or 0 semantic only) plus the rank fusion of the semantic and full-text rankings (below 0.5)."
    )
    match = serializers.ChoiceField(
        choices=list(MATCH_RULES.values()),
        allow_null=True,
        help_text="Search only: the rule that placed it: every word matched (as whole words, or some only inside "
        "a hyphenated compound), some words matched (likewise), or found by the semantic space alone (placed "
        "after every word match). Null elsewhere.",
    )
    boost = serializers.FloatField(
        help_text="What merchandising boosts (the request's boost=… and the store-wide rules) added to combined; "
        "0 when none matched."
    )
    popularity = serializers.FloatField(
        allow_null=True,
        help_text="/recommendations/ with popularity_weight > 0: what the popularity prior added to combined "
        f"(popularity_weight * score / (score + {POPULARITY_PRIOR_HALF_SCORE:g}), score its recent clicks and "
        "purchases, decayed; 0 for a product without any). "
        "Null when no prior applied.",
    )
    rules = serializers.ListField(
        child=serializers.CharField(),
        help_text='The boosts that touched it (the request\'s as sent, e.g. "brand:Acme:0.1", store-wide rules by '
        'name), and "pin" when a pin placed it.',
    )


class ResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    sku = serializers.CharField()
    title = serializers.CharField()
    brand = serializers.CharField()
    category = serializers.CharField(allow_null=True, help_text="Category slug.")
    price = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    in_stock = serializers.BooleanField()
    thumbnail = serializers.CharField(allow_null=True, help_text="Absolute URL of the primary photo's thumbnail.")
    scores = ScoresSerializer()


class DiagnosticsSerializer(serializers.Serializer):
    strategy = serializers.ChoiceField(
        choices=["neighbours", "hnsw", "hnsw_iterative", "exact", "starter_clusters", "newest", "none"],
        help_text="How candidates were found: the product's stored neighbour lists (/similar/), plain HNSW, "
        "iterative HNSW scan, exact scan, the cold-start cluster representatives, the newest matching "
        "products (cold start before anything is embedded), or nothing to query.",
    )
    reason = serializers.CharField(help_text="Why this strategy was chosen.")
    fallback = serializers.CharField(allow_null=True, required=False, help_text="Set when an index path came up short.")
    ef_search = serializers.IntegerField(allow_null=True, required=False)
    max_scan_tuples = serializers.IntegerField(allow_null=True, required=False)
    estimated_rows = serializers.IntegerField(
        allow_null=True, required=False, help_text="Products matching the filters."
    )
    catalog_rows = serializers.IntegerField(allow_null=True, required=False)
    candidates_examined = serializers.IntegerField(required=False)
    candidates_per_space = serializers.IntegerField(required=False)
    queries = serializers.IntegerField(required=False, help_text="k-NN statements run for the last window.")
    windows = serializers.IntegerField(required=False)
    window_size = serializers.IntegerField(required=False)
    spaces_queried = serializers.ListField(child=serializers.CharField(), required=False)
    weights = serializers.DictField(child=serializers.FloatField(), required=False)
    clusters = serializers.IntegerField(required=False, help_text="Cold start: visual clusters of the catalogue.")
    ignored_ids = serializers.DictField(
        child=serializers.ListField(child=serializers.IntegerField()),
        required=False,
        help_text="/recommendations/: history ids that name no product (deleted, or never there), left out.",
    )
    excluded = serializers.ListField(
        child=serializers.ChoiceField(
            choices=[
                "products",
                "product_groups",
                "variants",
                "duplicate_pairs",
                "same_title_brand",
                "max_similarity",
                "category_rules",
            ]
        ),
        required=False,
        help_text="Rules that kept products out: products (the source, or the history given), product_groups "
        "(disliked), variants (the source's product_group), duplicate_pairs (every product the duplicate "
        "detector paired with the source, open or confirmed), same_title_brand (the source's title and brand: "
        "a re-listing; SIMILAR_EXCLUDE_SAME_LISTING), max_similarity (visually above the ceiling), "
        "category_rules (store-wide rules keeping a category out of this product's category's similar lists).",
    )
    rules = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Merchandising in effect: the request's boosts and pins (product_id:position) and the store-wide "
        "score rules by name.",
    )
    popularity_weight = serializers.FloatField(
        required=False, help_text="/recommendations/: the popularity prior's weight, when one applied."
    )
    pins_unplaced = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Pinned ids not placed: no such product, inactive, filtered out or excluded.",
    )
    filters_applied = serializers.DictField(help_text='The filters as understood, e.g. {"attr.color": "red"}.')
    encoders = serializers.DictField(child=serializers.CharField(), help_text="Encoder identity per space.")
    elapsed_ms = serializers.FloatField()


class RankedListSerializer(serializers.Serializer):
    recommendation_id = serializers.UUIDField(help_text="Quote it when reporting a click on a result.")
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    count = serializers.IntegerField(help_text="Results on this page.")
    next_offset = serializers.IntegerField(allow_null=True, help_text="Offset of the next page; null at the end.")
    results = ResultSerializer(many=True)
    diagnostics = DiagnosticsSerializer()
