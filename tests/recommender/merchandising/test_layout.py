"""The storefront reads the store-wide rules without importing the storefront back (merchandising's pages import it)."""

from __future__ import annotations

from pathlib import Path

import recommender.merchandising as merchandising
from tests.recommender.feedback.test_layout import project_imports

PACKAGE = Path(merchandising.__file__).parent
# What recommender.storefront imports of this app.
READ_BY_THE_STOREFRONT = (
    "recommender.merchandising.models",
    "recommender.merchandising.rules",
    "recommender.merchandising.targets",
)


def test_the_rules_and_what_they_import_name_nothing_of_the_storefront() -> None:
    seen: set[str] = set()
    pending = list(READ_BY_THE_STOREFRONT)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        if not name.startswith("recommender.merchandising."):
            continue
        path = PACKAGE / f"{Path(*name.split('.')[2:])}.py"
        if path.is_file():  # else a name imported from a module, not a module
            pending.extend(project_imports(path))

    assert "recommender.merchandising.models" in seen
    assert not {name for name in seen if name.startswith("recommender.storefront")}, sorted(seen)
