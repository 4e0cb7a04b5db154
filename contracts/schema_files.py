"""Where the JSON schemas (``<name>.schema.json``) are, in every layout the code runs in.

The repository and the action's image keep them in ``schemas/`` beside the packages
(``<root>/schemas``, ``/app/schemas``); an installed distribution ships the same files as package
data in ``contracts/schemas/``. Modules ask here instead of counting parent folders.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

_HERE: Final = Path(__file__).resolve().parent
_INSTALLED: Final = _HERE / "schemas"
_SOURCE: Final = _HERE.parent / "schemas"

SCHEMA_DIR: Final = _INSTALLED if _INSTALLED.is_dir() else _SOURCE


def schema_path(name: str) -> Path:
    """The path of one schema file, e.g. ``schema_path("metrics.schema.json")``."""
    return SCHEMA_DIR / name
