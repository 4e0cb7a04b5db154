"""How a command-line entry point names itself in usage and error lines.

The same code runs as an installed console script (``pyproject.toml``'s ``[project.scripts]``)
and as ``python -m <package>``; ``--help`` should show the name the user typed.
"""

from __future__ import annotations

import os
import sys


def program_name(script: str, module: str) -> str:
    """``script`` when this process was started as that console script, else ``python -m module``."""
    invoked = os.path.basename(sys.argv[0]) if sys.argv else ""
    return script if invoked == script else f"python -m {module}"
