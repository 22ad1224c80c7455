"""What the one-app layout left in a live database, and how the new apps adopt it.

Until the storefront, duplicates and merchandising became apps of their own,
one `recommender` app held every model. The tables keep their names (each
model's db_table), the new apps' first migrations `replace` the old ones (so
Django records them applied instead of running them), and this moves the old
app label's content types to the new apps: permissions granted on them, and
admin history, stay attached to the same models.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

OLD_LABEL = "recommender"


def adopt_content_types(apps: Any, *, new_label: str, models: Iterable[str]) -> None:
    """RunPython body: relabel `recommender.<model>` content types as `<new_label>.<model>`.

    Where the new label already has a content type for the model (post_migrate
    ran before this migration), the new one is kept when it has no permissions
    of its own, and otherwise the old row is left for remove_stale_contenttypes.
    """
    content_type = apps.get_model("contenttypes", "ContentType")
    permission = apps.get_model("auth", "Permission")
    for model in models:
        old = content_type.objects.filter(app_label=OLD_LABEL, model=model).first()
        if old is None:
            continue  # a fresh database: nothing to adopt
        new = content_type.objects.filter(app_label=new_label, model=model).first()
        if new is not None:
            if permission.objects.filter(content_type=new).exists():
                continue
            new.delete()
        old.app_label = new_label
        old.save(update_fields=["app_label"])
