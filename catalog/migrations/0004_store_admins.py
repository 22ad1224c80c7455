"""The store admins' group (config/roles.py): every model permission of the catalogue."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

from config.roles import CATALOG_ACTIONS, CATALOG_MODELS, STORE_ADMINS


def create_group(apps: Any, schema_editor: Any) -> None:
    # Permissions are made by post_migrate, after every migration: make the catalogue's now
    # (create_permissions skips an app config without a models module, as historical ones are).
    config = apps.get_app_config("catalog")
    config.models_module = True
    create_permissions(config, apps=apps, verbosity=0)
    config.models_module = None
    group, _ = apps.get_model("auth", "Group").objects.get_or_create(name=STORE_ADMINS)
    codenames = [f"{action}_{model}" for action in CATALOG_ACTIONS for model in CATALOG_MODELS]
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="catalog", codename__in=codenames
    )
    group.permissions.add(*permissions)


def remove_group(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name=STORE_ADMINS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_image_source"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_group, remove_group)]
