"""The recommendation log's content type moves from the old `recommender` label (see recommender/legacy_layout.py)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

from recommender.legacy_layout import adopt_content_types


def forwards(apps: Any, schema_editor: Any) -> None:
    adopt_content_types(apps, new_label="storefront", models=("recommendationlog",))


class Migration(migrations.Migration):
    dependencies = [
        ("storefront", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
