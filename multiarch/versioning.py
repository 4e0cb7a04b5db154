"""Debian versions for upstream release tags, per suite.

API summary::

    upstream_version(tag: str) -> str
        "v0.44.1" -> "0.44.1"; "v1.0.0-rc1" -> "1.0.0~rc1"; "1.2_3" -> "1.2.3"
    debian_version(tag: str, build_version: str = "1", suite: Suite | str | None = None,
                   *, epoch: int = 0) -> str
        ("v0.44.1", "1", "bookworm") -> "0.44.1-1+deb12"
    validate_build_version(build_version: str) -> str      # ConfigError(field="build-version")
    deb_filename(package: str, version: str, arch: str) -> str
        ("uv", "1:0.5.11-1+deb12", "amd64") -> "uv_0.5.11-1+deb12_amd64.deb"
    compare_versions(a: str, b: str) -> int                # <0, 0, >0 like dpkg

The scheme: ``[epoch:]<upstream>-<build><suffix>`` where the suffix comes from the suite
table (``+deb11``, ``+deb12``, ``+deb13``, ``+deb14``, ``+sid``). Debian compares the revision
part by alternating non-digit and digit runs, so ``+deb11`` < ``+deb12`` numerically (and a
future ``+deb9`` < ``+deb10`` would too), and ``+sid`` sorts above every ``+debNN`` because
``s`` > ``d``. Codename suffixes (``+bullseye`` / ``+bookworm``) compare alphabetically, and
``bullseye`` > ``bookworm`` ('u' > 'o'), so a machine upgraded from bullseye to bookworm would
keep the bullseye build. The build number comes before the suffix, so a rebuild
(``-2+deb11``) always beats the previous build of any suite (``-1+deb14``).

Pre-release markers become ``~`` (``1.0~rc1`` < ``1.0``), because ``~`` sorts before
everything, even the end of the string.
"""

from __future__ import annotations

import re

from debian.debian_support import version_compare

from multiarch.errors import ConfigError
from multiarch.suites import ARCHITECTURE_WORD, Suite, get_suite

# Markers that mean "before the release". Only recognised right after a digit (optionally
# via one separator), so words that merely contain them ("predator", "devel-2") are left alone.
_PRERELEASE = re.compile(
    r"(?<=[0-9])[-._]?(alpha|beta|preview|pre|rc|dev)(?=[0-9]|[-._+~]|$)",
    re.IGNORECASE,
)
# Characters Debian allows in an upstream version that always has a revision after it
# (so '-' is allowed) and no epoch inside it (so ':' is not).
_INVALID_UPSTREAM = re.compile(r"[^A-Za-z0-9.+~-]+")
_BUILD_VERSION = re.compile(r"^[0-9][A-Za-z0-9.+~]*$")
# Full Debian version: optional epoch, upstream starting with a digit, optional revision.
_DEBIAN_VERSION = re.compile(
    r"^(?:(?P<epoch>[0-9]+):)?(?P<upstream>[0-9][A-Za-z0-9.+~-]*?)(?:-(?P<rev>[A-Za-z0-9.+~]+))?$"
)
_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_ARCH_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_MAX_TAG = 256
# No published tag can hold these: git refuses whitespace, control characters, ? * [ \ and
# '..' in a tag name, and $ ` ; | & < > ( ) quotes and braces only mean something to a shell.
# Such a "tag" is a typo or an injection attempt, and turning it into a version with dots
# would build packages for a release that cannot exist.
_NOT_IN_TAGS = re.compile(r"[\s\x00-\x1f\x7f?*\[\\$`;|&<>(){}'\"]|\.\.|@\{")


def upstream_version(tag: str) -> str:
    """The Debian upstream version for a release tag.

    Leading non-digits go (``v``, ``release-``, ``ripgrep-``), pre-release markers become
    ``~marker`` and every other character Debian does not allow becomes ``.``.
    """
    if len(tag) > _MAX_TAG:
        raise ConfigError(f"tag is longer than {_MAX_TAG} characters", field="version")
    bad = _NOT_IN_TAGS.search(tag)
    if bad is not None:
        raise ConfigError(
            f"tag {tag!r} cannot be a release tag: it contains {bad.group()!r}",
            field="version",
            remediation=("Pass the release tag exactly as published, e.g. v0.44.1.",),
        )
    match = re.search(r"[0-9]", tag)
    if match is None:
        raise ConfigError(
            f"tag {tag!r} contains no digit, so it has no version number",
            field="version",
            remediation=("Pass the release tag as published, e.g. v0.44.1 (not 'latest' or 'nightly').",),
        )
    text = tag[match.start() :]
    text = _PRERELEASE.sub(lambda m: "~" + m.group(1).lower(), text)
    text = _INVALID_UPSTREAM.sub(".", text)
    # Trailing separators add nothing and '1.0-' would read as an empty revision.
    text = text.rstrip(".-+")
    # Two separators in a row are legal but ugly and usually come from our own replacement.
    text = re.sub(r"\.{2,}", ".", text)
    return text


def validate_build_version(build_version: str) -> str:
    """The Debian revision the user asked for, checked (digit first, then ``[A-Za-z0-9.+~]``)."""
    if not isinstance(build_version, str) or not _BUILD_VERSION.match(build_version):
        raise ConfigError(
            f"build version {build_version!r} is not a valid Debian revision: it must start with a "
            "digit and contain only letters, digits, '.', '+' and '~'",
            field="build-version",
            remediation=("Use a number such as 1 or 2; bump it to rebuild the same upstream release.",),
        )
    return build_version


def debian_version(
    tag: str, build_version: str = "1", suite: Suite | str | None = None, *, epoch: int = 0
) -> str:
    """``[epoch:]<upstream>-<build><suite suffix>``; see the module docstring for why."""
    build = validate_build_version(build_version)
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise ConfigError(f"epoch must be a non-negative integer, not {epoch!r}", field="epoch")
    if isinstance(suite, str):
        suite = get_suite(suite, field="distributions")
    suffix = suite.version_suffix if suite is not None else ""
    version = f"{upstream_version(tag)}-{build}{suffix}"
    if epoch:
        version = f"{epoch}:{version}"
    if not _DEBIAN_VERSION.match(version):
        # Defensive: every branch above should already produce a valid version.
        raise ConfigError(
            f"cannot form a valid Debian version from tag {tag!r}: {version!r}", field="version"
        )
    return version


def compare_versions(a: str, b: str) -> int:
    """Debian version comparison (same algorithm as ``dpkg --compare-versions``)."""
    return int(version_compare(a, b))


def deb_filename(package: str, version: str, arch: str) -> str:
    """``<pkg>_<version>_<arch>.deb``; the epoch is left out, as dpkg-deb and dpkg-name do.

    The parts are checked because the result becomes a path: no '/' or '_' may sneak in.
    """
    if not _PACKAGE_NAME.match(package):
        raise ConfigError(f"invalid Debian package name {package!r}", field="package_name")
    if not _DEBIAN_VERSION.match(version):
        raise ConfigError(f"invalid Debian version {version!r}", field="version")
    if not _ARCH_NAME.match(arch):
        raise ConfigError(f"invalid Debian architecture {arch!r}", field=ARCHITECTURE_WORD)
    _, sep, rest = version.partition(":")
    without_epoch = rest if sep else version
    return f"{package}_{without_epoch}_{arch}.deb"
