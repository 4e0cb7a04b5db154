"""What an asset's bytes must hash to, and the check.

Sources of an expected digest, strongest first:

1. pinned metadata (``--pinned-metadata``): ``{"version": tag, "assets": {name: {"sha256": hex}}}``
   (``sha512`` accepted too). It is authoritative for its version: building another version
   with it is a ``ConfigError``; an asset it does not cover is a ``SecurityError`` (no silent
   fallback to what the release itself says).
2. a sidecar for this asset: ``<asset>.sha256``, ``.sha256sum``, ``.sha512``, ``.sha512sum``
   (``<hex>  <name>``, ``<hex> *<name>``, or a bare ``<hex>``).
3. a sums file covering several assets: ``SHA256SUMS``/``SHA512SUMS``, ``sha256.sum``,
   ``checksums.txt``, ``<project>_<version>_checksums.txt``, ``shasum.txt``; GNU lines
   (``<hex>  <name>``) or BSD lines (``SHA256 (name) = hex``); GoReleaser multi-hash files
   (``checksums`` with ``checksums_hashes_order`` naming the columns, as yq publishes).
4. the release API's asset ``digest`` (``sha256:<hex>``, which GitHub computes at upload).

Every available digest is checked, not just the strongest: a release whose sums file and API
digest disagree is suspicious whichever is right. The result names the strongest source that
verified the file; an asset nothing covers is reported as unverified (``verified_by`` None) unless
a pin is in force. Within one kind, SHA-512 ranks above SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from multiarch.errors import ConfigError, SecurityError
from multiarch.sources.interface import Release, ReleaseAsset

_MAX_PIN_BYTES: Final = 1024 * 1024
_HEX_LEN: Final = {32: "md5", 40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}
# Only these are trusted to prove integrity; md5/sha1 lines are parsed but not used.
STRONG_ALGORITHMS: Final = ("sha512", "sha384", "sha256")
_KIND_RANK: Final = {"pin": 4, "sidecar": 3, "sums": 2, "api": 1}
_ALGO_RANK: Final = {"sha512": 3, "sha384": 2, "sha256": 1}

_SIDECAR_SUFFIXES: Final = (".sha256", ".sha256sum", ".sha512", ".sha512sum", ".sha256.txt", ".sha512.txt")
_SUMS_NAME: Final = re.compile(
    r"(?:sha(?:256|384|512)sums?|sha(?:256|384|512)\.sum|shasums?|(?:.*[_.-])?checksums?|checksums-bsd)"
    r"(?:\.txt|\.sha256|\.sha512)?",
    re.IGNORECASE,
)
_BSD_LINE: Final = re.compile(r"^(SHA-?\d+|MD5|SHA1)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$", re.IGNORECASE)
_GNU_LINE: Final = re.compile(r"^\\?([0-9a-fA-F]{32,128})\s+[* ]?(.+?)\s*$")
_BARE_HEX: Final = re.compile(r"^\s*([0-9a-fA-F]{64}|[0-9a-fA-F]{128})\s*$")


def normalise_algorithm(name: str) -> str:
    """``SHA-256``/``SHA256``/``sha256`` -> ``sha256``; ``SHA3-256`` -> ``sha3_256``."""
    lower = name.strip().lower()
    if lower.startswith("sha3"):
        return "sha3_" + re.sub(r"\D", "", lower[4:])
    return lower.replace("-", "").replace("_", "")


def _algorithm_for(hexdigest: str, hint: str | None = None) -> str | None:
    by_len = _HEX_LEN.get(len(hexdigest))
    if hint is not None and by_len is not None and by_len != hint:
        return by_len  # the length does not lie; a file named sha256 holding sha512 lines exists
    return hint or by_len


def _basename(path: str) -> str:
    return path.strip().strip('"').replace("\\", "/").rsplit("/", 1)[-1]


def parse_checksums(
    text: str,
    *,
    algorithm: str | None = None,
    hashes_order: Sequence[str] | None = None,
    default_name: str | None = None,
) -> dict[str, dict[str, str]]:
    """Parse a checksum file into ``{asset name: {algorithm: hex}}``.

    Understands GNU lines, BSD lines, GoReleaser multi-hash lines (``<name> <h1> <h2> ...`` when
    ``hashes_order`` names the columns) and a bare digest (credited to ``default_name``).
    ``algorithm`` is the file name's hint; a digest's length overrides a wrong hint.
    Names are reduced to their basename (``./dist/x.tar.gz`` -> ``x.tar.gz``).
    """
    result: dict[str, dict[str, str]] = {}
    order = [normalise_algorithm(a) for a in hashes_order] if hashes_order else None
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        bsd = _BSD_LINE.match(line)
        if bsd:
            algo = normalise_algorithm(bsd.group(1))
            result.setdefault(_basename(bsd.group(2)), {})[algo] = bsd.group(3).lower()
            continue
        fields = line.split()
        if order and len(fields) >= 2 and not re.fullmatch(r"[0-9a-fA-F]+", fields[0]):
            name = _basename(fields[0])
            for algo, value in zip(order, fields[1:], strict=False):
                if re.fullmatch(r"[0-9a-fA-F]+", value):
                    result.setdefault(name, {})[algo] = value.lower()
            continue
        gnu = _GNU_LINE.match(line)
        if gnu:
            hexdigest = gnu.group(1).lower()
            guessed = _algorithm_for(hexdigest, algorithm)
            if guessed is not None:
                result.setdefault(_basename(gnu.group(2)), {})[guessed] = hexdigest
            continue
        bare = _BARE_HEX.match(line)
        if bare and default_name is not None:
            hexdigest = bare.group(1).lower()
            guessed = _algorithm_for(hexdigest, algorithm)
            if guessed is not None:
                result.setdefault(default_name, {})[guessed] = hexdigest
    return result


def _algorithm_hint(file_name: str) -> str | None:
    lower = file_name.lower()
    for algo in ("sha512", "sha384", "sha256"):
        if algo in lower:
            return algo
    return None


def _sidecar_names(asset_name: str) -> list[tuple[str, bool]]:
    """``x.tar.gz.sha256`` and friends (exact), and ``x.sha256sum`` for ``x.tar.gz`` (zellij's layout).

    A stem sidecar may belong to ``x.zip`` as well, so a bare digest in it is not credited to
    anyone: only lines that name the asset count (the bool says whether a bare digest may count).
    """
    names = [(asset_name + suffix, True) for suffix in _SIDECAR_SUFFIXES]
    lower = asset_name.lower()
    for archive in (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tar.zst", ".zip", ".gz", ".xz"):
        if lower.endswith(archive):
            stem = asset_name[: -len(archive)]
            names += [(stem + suffix, False) for suffix in _SIDECAR_SUFFIXES]
            break
    return names


# --------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class ExpectedDigest:
    algorithm: str  # sha256 | sha384 | sha512
    hexdigest: str
    kind: str  # pin | sidecar | sums | api
    source: str  # what to tell a human: the file it came from, or "release API digest"

    @property
    def rank(self) -> tuple[int, int]:
        return (_KIND_RANK[self.kind], _ALGO_RANK.get(self.algorithm, 0))


@dataclass(frozen=True)
class Verification:
    asset: str
    verified_by: str | None  # the strongest source that vouched for the bytes; None = unverified
    algorithm: str | None
    hexdigest: str | None
    sha256: str  # always computed: the content address in the download cache
    checked: tuple[str, ...] = ()  # every source that was checked and agreed

    @property
    def verified(self) -> bool:
        return self.verified_by is not None


@dataclass(frozen=True)
class PinnedMetadata:
    """A provenance pin: the digests one version's assets must have."""

    version: str
    assets: Mapping[str, Mapping[str, str]]
    source: str = "pinned metadata"

    @classmethod
    def from_json(cls, data: Any, source: str = "pinned metadata") -> PinnedMetadata:
        def bad(message: str, field_name: str = "pinned-metadata") -> ConfigError:
            return ConfigError(message, file=source, field=field_name)

        if not isinstance(data, dict):
            raise bad("pinned metadata must be a JSON object with 'version' and 'assets'")
        version = data.get("version")
        if not isinstance(version, str) or not version:
            raise bad("'version' must be the release tag the pin is for", "version")
        assets = data.get("assets")
        if not isinstance(assets, dict) or not assets:
            raise bad("'assets' must map asset names to {\"sha256\": hex}", "assets")
        parsed: dict[str, dict[str, str]] = {}
        for name, digests in assets.items():
            if not isinstance(digests, dict):
                raise bad(f'assets.{name} must be an object like {{"sha256": hex}}', f"assets.{name}")
            entry: dict[str, str] = {}
            for algo_raw, value in digests.items():
                algo = normalise_algorithm(str(algo_raw))
                if algo not in STRONG_ALGORITHMS:
                    continue
                expected_len = {v: k for k, v in _HEX_LEN.items()}[algo]
                if not isinstance(value, str) or not re.fullmatch(rf"[0-9a-fA-F]{{{expected_len}}}", value):
                    raise bad(
                        f"assets.{name}.{algo_raw} is not a {algo} hex digest", f"assets.{name}.{algo_raw}"
                    )
                entry[algo] = value.lower()
            if not entry:
                raise bad(f"assets.{name} pins no sha256/sha512 digest", f"assets.{name}")
            parsed[str(name)] = entry
        return cls(version=version, assets=parsed, source=source)

    @classmethod
    def load(cls, path: Path) -> PinnedMetadata:
        try:
            with path.open("rb") as handle:
                raw = handle.read(_MAX_PIN_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read pinned metadata: {exc.strerror}", file=str(path)) from None
        # A pin lists a release's assets: a few KiB. Anything far larger is the wrong file.
        if len(raw) > _MAX_PIN_BYTES:
            raise ConfigError(f"larger than {_MAX_PIN_BYTES // 1024} KiB; not a pin file", file=str(path))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            message = f"not valid UTF-8 (byte offset {exc.start})"
            raise ConfigError(message, file=str(path), line=line) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"invalid JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
        return cls.from_json(data, source=str(path))

    def check_version(self, tag: str) -> None:
        if self.version != tag:
            raise ConfigError(
                f"the pin is for version {self.version!r}, but the build is for {tag!r}",
                file=self.source,
                field="version",
                remediation=("pin the version you build, or build the pinned version",),
            )

    def expected(self, asset_name: str) -> list[ExpectedDigest]:
        digests = self.assets.get(asset_name)
        if digests is None:
            raise SecurityError(
                f"asset {asset_name} is not covered by the pin for {self.version} ({self.source})",
                remediation=("add the asset's sha256 to the pin file, or remove the pin",),
            )
        return [ExpectedDigest(a, h, "pin", self.source) for a, h in digests.items()]


# --------------------------------------------------------------------------------------------
# Finding and checking


@dataclass
class ChecksumIndex:
    """The checksum knowledge of one release, read lazily and once (thread-safe).

    ``read`` fetches a small asset's bytes (``ReleaseSource.read_bytes``).
    """

    release: Release
    read: Callable[[ReleaseAsset], bytes]
    pin: PinnedMetadata | None = None
    # package.yaml's ``checksums.hashes_order``: the asset naming a multi-hash file's columns
    # when it is not the conventional ``<file>_hashes_order``.
    hashes_order_name: str | None = None
    _parsed: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        if self.pin is not None:
            self.pin.check_version(self.release.tag)

    def _text(self, asset: ReleaseAsset) -> str:
        return self.read(asset).decode("utf-8", errors="replace")

    def _parse(self, asset: ReleaseAsset, default_name: str | None = None) -> dict[str, dict[str, str]]:
        with self._lock:
            cached = self._parsed.get(asset.name)
            if cached is not None:
                return cached
            order = None
            order_asset = self.release.asset(f"{asset.name}_hashes_order")
            if order_asset is None and self.hashes_order_name:
                order_asset = self.release.asset(self.hashes_order_name)
            if order_asset is not None:
                order = [line for line in self._text(order_asset).splitlines() if line.strip()]
            parsed = parse_checksums(
                self._text(asset),
                algorithm=_algorithm_hint(asset.name),
                hashes_order=order,
                default_name=default_name,
            )
            self._parsed[asset.name] = parsed
            return parsed

    def sums_files(self) -> list[ReleaseAsset]:
        return [
            a
            for a in self.release.assets
            if _SUMS_NAME.fullmatch(a.name) and not a.name.lower().endswith("_hashes_order")
        ]

    def expected(self, asset_name: str, configured: Sequence[str] = ()) -> list[ExpectedDigest]:
        """Every expected digest for the asset, strongest first (may be empty without a pin).

        ``configured`` names checksum assets package.yaml lists (``checksums.files``, already
        expanded for this asset); they are read whatever their names, so an upstream's unusual
        file name still counts. A bare digest in one is credited to this asset.
        """
        found: list[ExpectedDigest] = []
        if self.pin is not None:
            found.extend(self.pin.expected(asset_name))
        for sidecar_name, exact in _sidecar_names(asset_name):
            sidecar = self.release.asset(sidecar_name)
            if sidecar is None:
                continue
            digests = self._parse(sidecar, default_name=asset_name if exact else None).get(asset_name, {})
            found.extend(ExpectedDigest(a, h, "sidecar", sidecar.name) for a, h in digests.items())
        read_already = {name for name, _ in _sidecar_names(asset_name)}
        for sums in self.sums_files():
            read_already.add(sums.name)
            digests = self._parse(sums).get(asset_name, {})
            found.extend(ExpectedDigest(a, h, "sums", sums.name) for a, h in digests.items())
        for name in dict.fromkeys(configured):
            listed = self.release.asset(name)
            if listed is None or name in read_already:
                continue
            digests = self._parse(listed, default_name=asset_name).get(asset_name, {})
            found.extend(ExpectedDigest(a, h, "sums", listed.name) for a, h in digests.items())
        asset = self.release.asset(asset_name)
        if asset is not None and asset.digest_sha256:
            found.append(ExpectedDigest("sha256", asset.digest_sha256, "api", "release API digest"))
        usable = [d for d in found if d.algorithm in STRONG_ALGORITHMS]
        return sorted(usable, key=lambda d: d.rank, reverse=True)

    def verify(self, asset_name: str, path: Path, configured: Sequence[str] = ()) -> Verification:
        return verify_file(path, asset_name, self.expected(asset_name, configured))


def file_digests(path: Path, algorithms: Iterable[str]) -> dict[str, str]:
    """Hash a file once for several algorithms."""
    hashers = {a: hashlib.new(a) for a in set(algorithms) | {"sha256"}}
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            for h in hashers.values():
                h.update(chunk)
    return {a: h.hexdigest() for a, h in hashers.items()}


def verify_file(path: Path, asset_name: str, expected: Sequence[ExpectedDigest]) -> Verification:
    """Check the file against every expected digest; ``SecurityError`` on the first mismatch."""
    actual = file_digests(path, (d.algorithm for d in expected))
    ordered = sorted(expected, key=lambda d: d.rank, reverse=True)
    for digest in ordered:
        got = actual[digest.algorithm]
        if got != digest.hexdigest:
            raise SecurityError(
                f"checksum mismatch for {asset_name}: {digest.source} expects {digest.algorithm} "
                f"{digest.hexdigest}, the downloaded file has {got}",
                remediation=(
                    "do not retry blindly: the asset or its checksum was replaced or corrupted",
                    "compare with the release page and the upstream's announcement",
                ),
            )
    if not ordered:
        return Verification(asset_name, None, None, None, actual["sha256"])
    best = ordered[0]
    checked = tuple(dict.fromkeys(f"{d.source} ({d.algorithm})" for d in ordered))
    return Verification(asset_name, best.source, best.algorithm, best.hexdigest, actual["sha256"], checked)
