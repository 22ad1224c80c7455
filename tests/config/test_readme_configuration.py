"""Every variable the settings read is in the README's configuration table (and nothing there is invented)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# env_str("NAME"...), env_int(env_renamed("NEW", "OLD")...), env_thresholds(\n    "NAME", ...)
READ = re.compile(r'env_(?:str|bool|int|float|list|choice|renamed|thresholds)\(\s*"([A-Z][A-Z0-9_]+)"')
RENAMED = re.compile(r'env_renamed\("[A-Z0-9_]+", "([A-Z][A-Z0-9_]+)"\)')


def settings_text() -> str:
    return (ROOT / "config" / "settings.py").read_text()


def readme_section() -> str:
    return (ROOT / "README.md").read_text().split("## Configuration", 1)[1].split("\n## ", 1)[0]


def settings_variables() -> set[str]:
    """The current names (a renamed variable's old name is only mentioned beside its new one)."""
    text = settings_text()
    services = (ROOT / "config" / "local_services.py").read_text()
    names = set(READ.findall(text))
    # Read outside settings.py, by the entry points that start the embedded servers.
    names |= set(re.findall(r'os\.environ\.get\("([A-Z_]+)"', services)) - {"DATABASE_URL", "REDIS_URL"}
    names.add("LOOKALIKE_EMBEDDED")
    return names


def readme_table_variables() -> set[str]:
    """The names in the first column of the table under "## Configuration"."""
    first_cells = [line.split("|")[1] for line in readme_section().splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]{2,})`", cell)}


def test_the_readme_table_lists_every_variable_the_settings_read() -> None:
    documented = readme_table_variables()
    missing = settings_variables() - documented
    assert not missing, f"add to README's configuration table: {sorted(missing)}"


def test_the_readme_table_lists_no_variable_the_settings_do_not_read() -> None:
    invented = readme_table_variables() - settings_variables()
    assert not invented, f"README documents variables nothing reads: {sorted(invented)}"


def test_the_readme_names_each_renamed_variable_beside_its_new_name() -> None:
    for old in RENAMED.findall(settings_text()):
        assert f"was `{old}`" in readme_section(), old
