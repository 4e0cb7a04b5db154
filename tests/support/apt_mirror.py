"""The Debian mirror this machine's apt already uses, for tests that bootstrap a Debian root.

Read from ``/etc/apt/sources.list`` and ``sources.list.d/*.list``/``*.sources`` (one-line and
deb822 forms), so the tests fetch from wherever the machine is allowed to: a CI's local mirror, a
proxy, a snapshot. ``$DEBIAN_MIRROR`` overrides it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_ONE_LINE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)")
_DEB822_URIS = re.compile(r"^\s*URIs:\s*(.+)$", re.IGNORECASE)


def _candidates(text: str) -> list[str]:
    uris: list[str] = []
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        one = _ONE_LINE.match(line)
        if one:
            uris.append(one.group(1))
            continue
        many = _DEB822_URIS.match(line)
        if many:
            uris.extend(many.group(1).split())
    return uris


def _source_files(apt_dir: Path) -> list[Path]:
    files = [apt_dir / "sources.list"]
    parts = apt_dir / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    return [f for f in files if f.is_file()]


def debian_mirror(apt_dir: Path = Path("/etc/apt"), environ: dict[str, str] | None = None) -> str:
    """The first ``…/debian`` archive URI apt is configured with; ``LookupError`` if there is none."""
    env = os.environ if environ is None else environ
    override = env.get("DEBIAN_MIRROR", "").strip()
    if override:
        return override
    for path in _source_files(apt_dir):
        for uri in _candidates(path.read_text(encoding="utf-8", errors="replace")):
            if uri.rstrip("/").endswith("/debian"):
                return uri.rstrip("/")
    raise LookupError(f"no Debian archive (a URI ending in /debian) in {apt_dir}/sources.list{{,.d/}}")
