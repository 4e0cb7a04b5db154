"""lintian: run it on a package, count its findings, and ship the few justified overrides.

The default packages must be lintian-clean (no errors, no warnings). The packages are fixed
rather than silenced wherever that is possible: a man page is generated when upstream has none,
the copyright file carries a notice and DEP-5 license paragraphs, Depends covers the C library.
What cannot be fixed without changing upstream's binaries gets an override, shipped in the
package at ``/usr/share/lintian/overrides/<package>`` and only for the files it concerns:

- ``statically-linked-binary``: upstream publishes some builds statically linked (uv's aarch64
  build is a static musl binary). Relinking is impossible without rebuilding upstream's source,
  and this builder exists to ship the published, checksum-verified binaries as they are.
- ``unstripped-binary-or-object``: stripping would change the bytes whose checksums upstream
  published (and drop the symbols upstream chose to ship for backtraces).
- ``embedded-library``: upstream compiled a copy of a library (zlib, …) into its binary. Debian
  would link the system's copy instead, which needs a rebuild from source; the published
  binary is shipped as it is, so the override covers every upstream ELF file (whichever
  library lintian recognises in it: the context is a wildcard, the file is named).

- ``national-encoding`` under a bundle's folder (``/usr/lib/<package>``, bundle mode only): the
  upstream tree is shipped as released, and re-encoding upstream's files (C headers and
  assembler sources in Latin-1, as toolchains bundle them) would change what they are.

Anything else the package's own ``lintian_overrides`` (package.yaml) lists is appended, each
with the reason the configuration gives. ``--lintian strict`` turns any remaining error into
a failed job (category ``packaging``).

API summary::

    run_lintian(deb, *, timeout=600.0, profile=None) -> LintianResult
    parse_lintian(output) -> LintianResult
    override_entry(package, binaries, configured=(), bundle_dir=None) -> DataEntry | None
    LintianResult(tags, counts): every finding, and the LintianCounts the result file carries
        (contracts.builder_result)
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from contracts.builder_result import LintianCounts
from multiarch.debwriter import DataEntry
from multiarch.errors import DependencyError, PackagingError
from multiarch.payload import StagedBinary

# "E: uv: tag-name detail [pointer]" and, for other package types, "E: uv source: tag".
_LINE: Final = re.compile(
    r"^(?P<sev>[EWIPXCO]): (?P<pkg>[^:\s]+)(?: [a-z]+)?: "
    r"(?P<tag>[A-Za-z0-9][A-Za-z0-9+._-]*)(?: (?P<detail>.*))?$"
)


@dataclass(frozen=True)
class LintianTag:
    severity: str  # E, W, I, P, X, C, O
    package: str
    tag: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.severity}: {self.package}: {self.tag}" + (f" {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class LintianResult:
    tags: tuple[LintianTag, ...]  # every finding, the overridden ones too
    counts: LintianCounts  # what the result file carries


def parse_lintian(output: str) -> LintianResult:
    tags: list[LintianTag] = []
    for line in output.splitlines():
        match = _LINE.match(line.rstrip())
        if match is None:
            continue  # N: notes, blank lines, progress chatter
        tags.append(LintianTag(match["sev"], match["pkg"], match["tag"], match["detail"] or ""))

    def count(sev: str) -> int:
        return sum(1 for t in tags if t.severity == sev)

    counts = LintianCounts(
        errors=count("E"),
        warnings=count("W"),
        info=count("I"),
        # Overridden findings are counted, not listed.
        tags=tuple(str(t) for t in tags if t.severity != "O"),
        pedantic=count("P"),
        overridden=count("O"),
    )
    return LintianResult(tuple(tags), counts)


def run_lintian(deb: Path, *, timeout: float = 600.0, profile: str | None = None) -> LintianResult:
    """Run lintian with info and pedantic tags shown, and count what it says.

    lintian exits 2 when it found errors (``--fail-on``); that is a result, not a failure. Exit 1
    is lintian's own run-time error (it could not unpack the package, a check crashed) and
    raises PackagingError.
    """
    exe = shutil.which("lintian")
    if exe is None:
        raise DependencyError(
            "lintian is not installed", remediation=("apt-get install lintian, or build without --lintian",)
        )
    cmd = [exe, "--display-info", "--pedantic", "--show-overrides", "--tag-display-limit", "0"]
    if profile:
        cmd += ["--profile", profile]
    cmd.append(str(deb))
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise PackagingError(f"lintian did not finish within {timeout:.0f} s on {deb.name}") from exc
    result = parse_lintian(proc.stdout)
    if proc.returncode not in (0, 2):
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise PackagingError(f"lintian failed on {deb.name} (exit {proc.returncode}): {' | '.join(detail)}")
    return result


def _pointer(path: str) -> str:
    return f"[{path}]"


def override_entry(
    package: str,
    binaries: Iterable[StagedBinary],
    configured: Iterable[tuple[str, str]] = (),
    bundle_dir: str | None = None,
) -> DataEntry | None:
    """The package's lintian overrides for upstream binaries we ship unmodified, or None.

    Every built-in line names the file it concerns, so an override never hides the same problem
    elsewhere. ``configured`` are package.yaml's (override, reason) pairs, appended as given.
    """
    lines: list[str] = []
    elves = [b for b in binaries if b.elf is not None]
    static = sorted(b.path for b in elves if b.elf is not None and b.elf.is_executable and b.elf.is_static)
    unstripped = sorted(b.path for b in elves if b.elf is not None and b.elf.has_symtab)
    upstream = sorted({b.path for b in elves})
    if static:
        lines.append("# Upstream publishes this build statically linked; it is shipped as released.")
        lines += [f"{package}: statically-linked-binary {_pointer(p)}" for p in static]
    if unstripped:
        lines.append("# Upstream's binaries are shipped byte-identical to the checksummed release assets.")
        lines += [f"{package}: unstripped-binary-or-object {_pointer(p)}" for p in unstripped]
    if upstream:
        lines.append("# Libraries upstream compiled into its binaries; relinking needs a rebuilt upstream.")
        lines += [f"{package}: embedded-library * {_pointer(p)}" for p in upstream]
    if bundle_dir:
        lines.append("# Upstream's bundled tree is shipped as released, in the encodings upstream chose.")
        lines.append(f"{package}: national-encoding {_pointer(bundle_dir.strip('/') + '/*')}")
    for override, reason in configured:
        lines.append(f"# {reason}" if reason else "# From package.yaml (lintian_overrides).")
        lines.append(f"{package}: {override}")
    if not lines:
        return None
    return DataEntry.blob(f"usr/share/lintian/overrides/{package}", ("\n".join(lines) + "\n").encode())


def strict_failure(result: LintianResult) -> str | None:
    """Why ``--lintian strict`` fails a package (its errors, named), or None when it passes."""
    errors = result.counts.errors
    if errors == 0:
        return None
    names = sorted({t.tag for t in result.tags if t.severity == "E"})
    shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
    return f"lintian found {errors} error{'s' if errors != 1 else ''} ({shown}) and lintian-check is strict"
