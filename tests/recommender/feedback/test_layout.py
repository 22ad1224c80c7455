"""The popularity selector can be imported by the storefront without importing the storefront back."""

from __future__ import annotations

import ast
from pathlib import Path

import recommender.feedback as feedback

PACKAGE = Path(feedback.__file__).parent


def project_imports(module: Path) -> set[str]:
    """Modules `module` imports (`from a import b` counts a and a.b: b may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {name for name in names if name.startswith(("recommender", "catalog", "embeddings", "config"))}


def test_popularity_and_what_it_imports_name_nothing_of_the_storefront() -> None:
    seen: set[str] = set()
    pending = ["recommender.feedback.selectors.popularity", "recommender.feedback.selectors"]
    while pending:
        name = pending.pop()
        if name in seen or not name.startswith("recommender.feedback"):
            seen.add(name)
            continue
        seen.add(name)
        relative = Path(*name.split(".")[2:])
        path = PACKAGE / relative / "__init__.py" if (PACKAGE / relative).is_dir() else PACKAGE / f"{relative}.py"
        if path.is_file():  # else a name imported from a module, not a module
            pending.extend(project_imports(path))

    assert "recommender.feedback.decay" in seen and "recommender.feedback.models" in seen
    assert not {name for name in seen if name.startswith("recommender.storefront")}, sorted(seen)
