"""Which release asset holds the binary for which Debian architecture.

Auto-discovery reads only asset names. It avoids the classic mistakes of ad-hoc scripts:

- ``x86_64``/``x86-64``/``amd64``/``x64`` is amd64, never i386 (a substring test for ``x86``
  or ``86`` gets this wrong); ``x86``, ``386``, ``i686``, ``32-bit`` alone are i386.
- ARM is decided by the float ABI first: ``gnueabihf``/``musleabihf``/``armhf`` are armhf,
  ``gnueabi``/``musleabi``/``armel`` are armel (so ``armv7-…-musleabi`` is armel); without an
  ABI, ``armv7`` is armhf and ``arm``/``armv5``/``armv6`` are armel.
- ``riscv64gc`` is riscv64, ``loongarch64`` is loong64, ``ppc64le``/``powerpc64le`` is ppc64el
  while big-endian ``ppc64``/``powerpc64`` is rejected (but see Node names below), like
  ``aarch64_be``, mips and ``x32``.
- Node/npm words (``x64``, ``ia32``, ``arm``, ``arm64``, ``ppc64``, ``s390x``, ``riscv64``,
  ``loong64``, as ``process.arch`` spells them): ``ia32`` is i386 everywhere. A release that
  names its builds this way (it uses ``x64`` or ``ia32``) means ARMv7 hard-float by ``arm`` and
  little-endian ppc64le by ``ppc64``, so there ``arm`` proposes armhf and ``ppc64`` ppc64el.
- Names propose, ELF decides: a word that cannot tell the Debian arch (``arm``: armel or armhf;
  ``x86``: i386 or amd64; Node's ``ppc64``: ppc64el or big-endian) makes a candidate whose
  ``elf_decides`` lists the arches it could be. ``settle_with_elf`` reads the executables' ELF
  headers (class, byte order, machine, ARM float ABI) and moves the choice to the arch they
  show, or rejects the asset when they show no supported one; the reason says which.
- gnu is preferred over musl (``prefer_libc="musl"`` flips it; ``allow_musl=False`` forbids it);
  Linux assets only (darwin, windows, the BSDs, android, wasm are rejected).
- Checksums, signatures, attestations, SBOMs, source/man/completion archives, distro packages,
  installers, AppImages and metadata are never candidates.

Every asset that is not chosen says why, and every wanted arch without an asset says why
(``Discovery.rejected`` / ``Discovery.skipped``).

Manual selection (``manual={"armhf": pattern}``): a pattern is a shell glob matched against the
whole asset name (``fnmatch``, case-sensitive: ``*``, ``?``, ``[...]``), or a Python regular
expression when written ``re:<regex>`` (``re.fullmatch``). Placeholders (``{version}``,
``{arch}``, …) are expanded by ``multiarch.config`` before they get here. Checksum/signature/
SBOM files are dropped from a pattern's matches (``tool-*.tar.gz*`` would otherwise match the
``.sha256``); if several assets remain, the best archive format wins and the reason lists the rest.

Archive kinds come from each asset's own name, or its first bytes once downloaded
(``detect_kind``), never from one global setting.
"""

from __future__ import annotations

import bz2
import difflib
import enum
import fnmatch
import functools
import lzma
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Final

from contracts.builder_result import SkippedArch
from multiarch.elf import ElfInfo, describe, runs_as
from multiarch.errors import ConfigError
from multiarch.sources.interface import ReleaseAsset

# --------------------------------------------------------------------------------------------
# Archive kinds

# The C library of a build whose name tells none (Go and other static builds often don't).
LIBC_UNKNOWN: Final = "unknown"


class ArchiveKind(enum.StrEnum):
    TAR_GZ = "tar.gz"
    TAR_XZ = "tar.xz"
    TAR_BZ2 = "tar.bz2"
    TAR_ZST = "tar.zst"
    TAR = "tar"
    ZIP = "zip"
    GZIP = "gz"  # one compressed file, usually the executable itself
    XZ = "xz"
    BZIP2 = "bz2"
    ZSTD = "zst"
    BINARY = "binary"  # a bare executable (ELF, or a script)
    UNKNOWN = "unknown"

    @property
    def is_tar(self) -> bool:
        return self.value.startswith("tar")

    @property
    def is_single_file(self) -> bool:
        return self in (ArchiveKind.GZIP, ArchiveKind.XZ, ArchiveKind.BZIP2, ArchiveKind.ZSTD)


_SUFFIX_KINDS: Final = (
    (".tar.gz", ArchiveKind.TAR_GZ),
    (".tgz", ArchiveKind.TAR_GZ),
    (".tar.xz", ArchiveKind.TAR_XZ),
    (".txz", ArchiveKind.TAR_XZ),
    (".tar.bz2", ArchiveKind.TAR_BZ2),
    (".tbz2", ArchiveKind.TAR_BZ2),
    (".tbz", ArchiveKind.TAR_BZ2),
    (".tar.zst", ArchiveKind.TAR_ZST),
    (".tar.zstd", ArchiveKind.TAR_ZST),
    (".tzst", ArchiveKind.TAR_ZST),
    (".tar", ArchiveKind.TAR),
    (".zip", ArchiveKind.ZIP),
    (".gz", ArchiveKind.GZIP),
    (".xz", ArchiveKind.XZ),
    (".bz2", ArchiveKind.BZIP2),
    (".zst", ArchiveKind.ZSTD),
)

_TAR_OF: Final = {
    ArchiveKind.GZIP: ArchiveKind.TAR_GZ,
    ArchiveKind.XZ: ArchiveKind.TAR_XZ,
    ArchiveKind.BZIP2: ArchiveKind.TAR_BZ2,
    ArchiveKind.ZSTD: ArchiveKind.TAR_ZST,
}


def kind_from_name(name: str) -> ArchiveKind | None:
    """The kind an archive suffix announces; None when the name has no archive suffix."""
    lower = name.lower()
    for suffix, kind in _SUFFIX_KINDS:
        if lower.endswith(suffix):
            return kind
    return None


def _is_tar_block(data: bytes) -> bool | None:
    """True/False when ``data`` (the start of a stream) shows whether it is a tar; None if too short."""
    if len(data) < 262:
        return None
    return data[257:262] == b"ustar"


def _inner_head(kind: ArchiveKind, head: bytes) -> bytes:
    """The first decompressed bytes of a partial compressed stream (best effort)."""
    try:
        if kind is ArchiveKind.GZIP:
            return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 1024)
        if kind is ArchiveKind.XZ:
            return lzma.LZMADecompressor().decompress(head, 1024)
        if kind is ArchiveKind.BZIP2:
            return bz2.BZ2Decompressor().decompress(head)[:1024]
    except (zlib.error, lzma.LZMAError, OSError, EOFError):
        return b""
    return b""  # zstd: no stdlib decoder; the name decides


def kind_from_magic(head: bytes) -> ArchiveKind | None:
    """The kind the first bytes show; None when they are not recognised."""
    if head.startswith(b"\x7fELF") or head.startswith(b"#!"):
        return ArchiveKind.BINARY
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return ArchiveKind.ZIP
    if head.startswith(b"\x1f\x8b"):
        return ArchiveKind.GZIP
    if head.startswith(b"\xfd7zXZ\x00"):
        return ArchiveKind.XZ
    if head.startswith(b"BZh"):
        return ArchiveKind.BZIP2
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return ArchiveKind.ZSTD
    if _is_tar_block(head):
        return ArchiveKind.TAR
    return None


def detect_kind(name: str, head_bytes: bytes = b"") -> ArchiveKind:
    """The archive kind of one asset, from its first bytes if given, else from its name.

    The bytes win when they disagree with the name (an ELF named ``.tar.gz`` is a binary). For
    a compressed stream, whether a tar is inside is read from the decompressed head when enough
    of it is given (gzip, xz, bzip2), otherwise from the name (``.tar.*``/``.t?z``). Without
    bytes, a name with no archive suffix is taken for a bare binary; with bytes that match no
    known format, it is ``UNKNOWN``.
    """
    named = kind_from_name(name)
    if not head_bytes:
        return named if named is not None else ArchiveKind.BINARY
    magic = kind_from_magic(head_bytes)
    if magic is None:
        return ArchiveKind.UNKNOWN
    if magic in _TAR_OF:
        inner = _inner_head(magic, head_bytes)
        if inner.startswith(b"\x7fELF"):
            return magic
        is_tar = _is_tar_block(inner)
        if is_tar is None:
            is_tar = named is not None and named.is_tar
        return _TAR_OF[magic] if is_tar else magic
    return magic


# --------------------------------------------------------------------------------------------
# Name classification

# Assets that are never the binary, checked in order; the first match is the reason.
_SUFFIX_REASONS: Final[tuple[tuple[tuple[str, ...], str], ...]] = (
    (
        (".sha256", ".sha256sum", ".sha512", ".sha512sum", ".sha1", ".md5", ".sha256.txt", ".b3"),
        "checksum file",
    ),
    (
        (
            ".sig",
            ".asc",
            ".minisig",
            ".pem",
            ".cert",
            ".crt",
            ".sigstore",
            ".sigstore.json",
            ".intoto.jsonl",
            ".bundle",
            ".provenance",
            ".att",
        ),
        "signature or attestation",
    ),
    ((".sbom", ".spdx", ".spdx.json", ".cdx.json", ".cdx.xml", ".bom.json", ".sbom.json"), "SBOM"),
    ((".pkg.tar.zst", ".pkg.tar.xz", ".pkg.tar.gz"), "an Arch Linux package"),
    ((".deb",), "a Debian package (repackaging it is not supported)"),
    ((".rpm",), "an RPM package"),
    ((".apk",), "an Alpine/Android package"),
    ((".msi", ".exe", ".msix", ".appx"), "a Windows installer or executable"),
    ((".dmg", ".pkg"), "a macOS installer"),
    ((".snap", ".flatpak", ".flatpakref"), "a snap/flatpak bundle"),
    ((".appimage",), "an AppImage (needs FUSE at run time; map it manually to package it)"),
    ((".zsync",), "an AppImage update file"),
    (
        (".7z", ".rar", ".lz", ".lzma", ".lz4", ".cpio", ".iso", ".img", ".qcow2", ".dll", ".so", ".a"),
        "a format the builder does not unpack or install",
    ),
    ((".whl", ".nupkg", ".vsix", ".jar", ".gem", ".crate"), "a language package"),
    ((".sh", ".ps1", ".bat", ".cmd"), "an installer script"),
    ((".json", ".txt", ".yml", ".yaml", ".md", ".html", ".xml", ".toml", ".csv", ".pdf"), "metadata"),
)

_CHECKSUM_NAMES: Final = re.compile(
    r"(?:sha(?:1|224|256|384|512)sums?|md5sums?|b2sums?|shasums?|sha(?:256|512)\.sum"
    r"|(?:.*[_.-])?checksums?(?:[_.-].*)?|.*_hashes_order)(?:\.[a-z0-9]+)?"
)
_SOURCE_NAMES: Final = re.compile(
    r"(?:source|sources|src|source[-_]code|vendor|vendored)(?:[-_.].*)?\.(?:tar\.\w+|tgz|zip)"
    r"|.*[-_.](?:src|source|sources|vendor|vendored)\.(?:tar\.\w+|tgz|zip)"
)
_DOC_ARCHIVES: Final = re.compile(
    r"(?:.*[-_])?(?:completions?|man|manpages?|man[-_]page[-_]only|docs?)(?:[-_].*)?"
)

_OTHER_OS: Final = {
    "darwin": "macOS",
    "macos": "macOS",
    "macosx": "macOS",
    "osx": "macOS",
    "apple": "macOS",
    "mac": "macOS",
    "universal": "macOS",
    "windows": "Windows",
    "win": "Windows",
    "win32": "Windows",
    "win64": "Windows",
    "msvc": "Windows",
    "mingw": "Windows",
    "mingw32": "Windows",
    "mingw64": "Windows",
    "freebsd": "FreeBSD",
    "netbsd": "NetBSD",
    "openbsd": "OpenBSD",
    "dragonfly": "DragonFly BSD",
    "dragonflybsd": "DragonFly BSD",
    "illumos": "illumos",
    "solaris": "Solaris",
    "sunos": "Solaris",
    "aix": "AIX",
    "android": "Android",
    "androideabi": "Android",
    "ios": "iOS",
    "wasm": "WebAssembly",
    "wasm32": "WebAssembly",
    "wasi": "WebAssembly",
    "plan9": "Plan 9",
    "haiku": "Haiku",
}

# OS tokens that also occur in Linux asset names (universal-ctags, …): they count only without "linux".
_SOFT_OS: Final = frozenset({"universal", "mac", "apple", "win"})

# Tokens naming architectures Debian (or this builder) does not target, with the reason.
_UNSUPPORTED_ARCH: Final = {
    "ppc64": "big-endian ppc64 (Debian's ppc64el is little-endian: ppc64le)",
    "powerpc64": "big-endian ppc64 (Debian's ppc64el is little-endian: powerpc64le)",
    "ppc": "32-bit powerpc",
    "powerpc": "32-bit powerpc",
    "aarch64_be": "big-endian arm64",
    "mips": "mips",
    "mipsel": "mipsel",
    "mipsle": "mipsel",
    "mips64": "mips64",
    "mips64el": "mips64el",
    "mips64le": "mips64el",
    "sparc64": "sparc64",
    "sparcv9": "sparc64",
    "s390": "31-bit s390",
    "riscv32": "riscv32",
    "x32": "the x32 ABI",
    "gnux32": "the x32 ABI",
    "armeb": "big-endian arm",
    "armv8l": "32-bit ARM on ARMv8 (ambiguous float ABI)",
}

# ABI tokens: (libc, float ABI for ARM).
_ABI: Final[dict[str, tuple[str | None, str | None]]] = {
    "gnueabihf": ("gnu", "hard"),
    "musleabihf": ("musl", "hard"),
    "eabihf": (None, "hard"),
    "gnueabi": ("gnu", "soft"),
    "musleabi": ("musl", "soft"),
    "eabi": (None, "soft"),
    "gnu": ("gnu", None),
    "glibc": ("gnu", None),
    "musl": ("musl", None),
    "static": ("static", None),
    "staticlinked": ("static", None),
}

# Tokens beyond the suite table's upstream_tokens (and ones we read differently).
_EXTRA_ARCH_TOKENS: Final = {
    "x86_64": "amd64",
    "linux64": "amd64",
    "64bit": "amd64",
    "aarch_64": "arm64",
    "armv7l": "armhf",
    "armv7a": "armhf",
    "armv7h": "armhf",
    "armv7hl": "armhf",
    "armv6l": "armel",
    "armv5tel": "armel",
    "armv4t": "armel",
    "i486": "i386",
    "linux32": "i386",
    "32bit": "i386",
    "riscv64gc": "riscv64",
    "ia32": "i386",  # Node's process.arch
}
# Node's process.arch words that no other naming uses: a release spelling arches this way
# means ARMv7 hard-float by "arm" and little-endian ppc64 by "ppc64".
_NODE_WORDS: Final = frozenset({"x64", "ia32"})
_NODE_PROPOSALS: Final = {"arm": "armhf", "ppc64": "ppc64el"}
# Words whose Debian arch only the binary can tell (without an ABI token that settles it).
_AMBIGUOUS: Final[dict[str, tuple[str, ...]]] = {
    "arm": ("armel", "armhf"),
    "x86": ("i386", "amd64"),
    "ppc64": ("ppc64el",),  # Node's; the ELF header may still show a big-endian build
}
# Tokens that only hint at an arch ("64bit" could be anything 64-bit): chosen only if nothing better.
_WEAK_TOKENS: Final = frozenset({"64bit", "32bit", "linux64", "linux32", "x86"})
# Tokens suites.py lists for an arch that are really ABI tokens; _ABI reads them.
_ABI_LIKE: Final = frozenset({"gnueabihf", "musleabihf", "gnueabi", "musleabi"})
_ARM: Final = frozenset({"armhf", "armel"})
_DEBUG: Final = frozenset({"debug", "dbg", "symbols", "debuginfo", "pdb", "dwarf", "dsym"})


def _norm_token(token: str) -> str:
    return re.sub(r"(\d+)[-_]bit$", r"\1bit", token.lower())


@functools.cache
def _arch_tokens() -> dict[str, str]:
    """Upstream token -> Debian arch, from the suite table plus our extras."""
    from multiarch import suites  # lazily: the table is validated on first use

    table: dict[str, str] = {}
    for info in suites.default_table().arches:
        for token in info.upstream_tokens:
            norm = _norm_token(token)
            if norm not in _ABI_LIKE:
                table.setdefault(norm.replace("-", "_"), info.name)
    for token, arch in _EXTRA_ARCH_TOKENS.items():
        table.setdefault(token, arch)
    return table


def _all_arches() -> tuple[str, ...]:
    from multiarch import suites

    return suites.supported_arches()


def _tokens(name: str) -> list[str]:
    lower = name.lower()
    lower = re.sub(r"(?<![a-z0-9])(32|64)[-_]bit(?![a-z0-9])", r"\1bit", lower)
    # x86_64/x86-64 and aarch64_be must stay one token; everything else splits on punctuation.
    raw = re.findall(r"x86[-_]64|aarch64_be|aarch_64|[a-z0-9]+", lower)
    return ["x86_64" if t.startswith("x86") and t.endswith("64") and len(t) == 6 else t for t in raw]


@dataclass(frozen=True)
class _Classified:
    name: str
    arch: str | None
    reason: str  # why rejected (empty for a candidate) or how the arch was read
    kind: ArchiveKind = ArchiveKind.UNKNOWN
    libc: str = LIBC_UNKNOWN
    linux_named: bool = False
    specificity: int = 0  # 2 exact token, 1 weaker (arm+hf, 64bit, …)
    variant: bool = False  # microarch levels (x86_64_v3) and similar: a fallback only
    elf_decides: tuple[str, ...] = ()  # the arches an ambiguous name may be; the ELF header picks


def _ignore_reason(name: str) -> str | None:
    lower = name.lower()
    # Checksum, signature and SBOM suffixes first (checksums.txt.sig is a signature), then
    # checksum file names (so checksums.txt is a checksum file, not metadata), then the rest.
    for suffixes, reason in _SUFFIX_REASONS[:3]:
        if lower.endswith(suffixes):
            return reason
    if _CHECKSUM_NAMES.fullmatch(lower) and not _has_arch(lower):
        return "checksum file"
    for suffixes, reason in _SUFFIX_REASONS[3:]:
        if lower.endswith(suffixes):
            return reason
    if _SOURCE_NAMES.fullmatch(lower):
        return "source archive"
    stem = lower
    for suffix, _ in _SUFFIX_KINDS:
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if kind_from_name(lower) is not None and _DOC_ARCHIVES.fullmatch(stem) and not _has_arch(lower):
        return "documentation, man page or shell-completion archive"
    if "sbom" in _tokens(lower):
        return "SBOM"
    return None


def _has_arch(lower: str) -> bool:
    table = _arch_tokens()
    return any(t in table for t in _tokens(lower))


def _strip_project(name: str, project: str | None) -> str:
    """The name without a leading project name, so ``pdb-…`` or ``arm-tools-…`` are not read as tokens."""
    if not project:
        return name
    lower, prefix = name.lower(), project.lower()
    if lower.startswith(prefix) and len(name) > len(prefix) and name[len(prefix)] in "-_.":
        return name[len(prefix) + 1 :]
    return name


def classify(name: str, project: str | None = None, *, node_names: bool = False) -> _Classified:
    """Read one asset name: its Debian arch, libc and kind, or why it is no candidate.

    Rejections carry ``arch=None`` and a reason; candidates carry the arch and a short note.
    ``project`` (the package or repository name) is stripped from the front before the name's
    tokens are read, so a project called ``pdb`` or ``arm-tools`` does not confuse them.
    ``node_names``: the release spells arches as Node does (``arm`` is armhf, ``ppc64`` is
    little-endian); see the module docstring.
    """
    ignore = _ignore_reason(name)
    if ignore is not None:
        return _Classified(name, None, ignore)
    tokens = _tokens(_strip_project(name, project))
    token_set = set(tokens)
    refusal = _refusal(tokens, token_set, node_names=node_names)
    if refusal is not None:
        return _Classified(name, None, refusal)
    libc, float_abi = _abi(tokens)
    found = _arch_hits(tokens, node_names=node_names)
    note = ""
    specificity = 2
    if any(a in _ARM for a in found):
        specificity, note = _settle_arm(found, float_abi)
    if not found:
        return _Classified(name, None, "no known architecture in the name")
    strong = {a: v for a, v in found.items() if not v[1]}
    if len(strong) > 1:
        listed = ", ".join(f"{v[0]} ({a})" for a, v in sorted(strong.items()))
        return _Classified(name, None, f"ambiguous: names several architectures: {listed}")
    if strong:
        arch, (token, _) = next(iter(strong.items()))
    else:
        if len(found) > 1:
            return _Classified(name, None, "ambiguous architecture hints: " + ", ".join(sorted(found)))
        arch, (token, _) = next(iter(found.items()))
        specificity = 1
    elf_decides: tuple[str, ...] = ()
    if token in _AMBIGUOUS and not (token == "arm" and float_abi is not None):
        elf_decides = _AMBIGUOUS[token]
        if node_names and token in _NODE_PROPOSALS:
            arch = _NODE_PROPOSALS[token]
            note = f"{token} is {arch} in Node's naming (the ELF header decides)"
        else:
            note = f"{token} proposes {arch} (the ELF header decides)"
    linux_named = bool(token_set & {"linux", "linux64", "linux32", "musl", "gnu", "gnueabihf", "musleabihf"})
    # x86_64_v2/v3/v4 and similar microarchitecture builds need newer CPUs than Debian's baseline.
    variant = bool(re.search(r"x86[-_]64[-_]v[2-4]\b", name.lower()))
    kind = detect_kind(name)
    how = note or f"{token} is {arch}"
    return _Classified(name, arch, how, kind, libc, linux_named, specificity, variant, elf_decides)


def uses_node_names(names: Iterable[str]) -> bool:
    """Whether a release spells its arches as Node's ``process.arch`` does (``x64``, ``ia32``)."""
    return any(t in _NODE_WORDS for n in names for t in _tokens(n))


def _refusal(tokens: Sequence[str], token_set: set[str], *, node_names: bool = False) -> str | None:
    """Why a name is for no Linux target we build (another OS, debug symbols, an unsupported arch)."""
    for token in tokens:
        if token in _OTHER_OS and not (token in _SOFT_OS and "linux" in token_set):
            return f"built for {_OTHER_OS[token]}, not Linux"
    debug = token_set & _DEBUG
    if debug:
        return f"debug symbols ({sorted(debug)[0]})"
    for token in tokens:
        if token in _UNSUPPORTED_ARCH and not (node_names and token in _NODE_PROPOSALS):
            return f"architecture {_UNSUPPORTED_ARCH[token]} is not a supported target"
    return None


def _abi(tokens: Sequence[str]) -> tuple[str, str | None]:
    """The libc and the ARM float ABI the ABI tokens (gnueabihf, musl, …) name."""
    libc = LIBC_UNKNOWN
    float_abi: str | None = None
    for token in tokens:
        if token in _ABI:
            abi_libc, abi_float = _ABI[token]
            libc = abi_libc or libc
            float_abi = abi_float or float_abi
    return libc, float_abi


def _arch_hits(tokens: Sequence[str], *, node_names: bool = False) -> dict[str, tuple[str, bool]]:
    """Each arch the tokens name -> (the token, whether it is only a weak hint); strong ones win."""
    table = _arch_tokens()
    if node_names:
        table = {**table, "ppc64": _NODE_PROPOSALS["ppc64"]}
    found: dict[str, tuple[str, bool]] = {}
    for token in tokens:
        arch = table.get(token)
        if arch is None:
            continue
        weak = token in _WEAK_TOKENS
        if arch not in found or (found[arch][1] and not weak):
            found[arch] = (token, weak)
    return found


def _settle_arm(found: dict[str, tuple[str, bool]], float_abi: str | None) -> tuple[int, str]:
    """Replace the ARM hits in ``found`` by one arch, armhf or armel; returns (specificity, note).

    The float ABI decides between them: "arm" + "gnueabihf" is armhf.
    """
    arm = {a: v for a, v in found.items() if a in _ARM}
    note = ""
    specificity = 2
    token = next(iter(arm.values()))[0]
    for a in ("armhf", "armel"):
        if a in arm:
            token = arm[a][0]
            break
    if float_abi == "hard":
        chosen = "armhf"
        if "armhf" not in arm:
            specificity = 1
            note = f"{token} with a hard-float ABI is armhf"
    elif float_abi == "soft":
        chosen = "armel"
        if "armel" not in arm:
            note = f"{token} with a soft-float ABI is armel, not armhf"
    else:
        chosen = "armhf" if "armhf" in arm else "armel"
    for a in _ARM:
        found.pop(a, None)
    found[chosen] = (token, False)
    # Debian's armel baseline is ARMv5TE: an ARMv6/v7 soft-float build may use instructions
    # older armel CPUs lack, so it only serves when no baseline build exists.
    if chosen == "armel" and re.match(r"armv[67]", token):
        specificity = 1
        note = note or f"{token} is armel (above the ARMv5TE baseline)"
    return specificity, note


_FORMAT_RANK: Final = {
    ArchiveKind.TAR_GZ: 4,
    ArchiveKind.TAR_XZ: 4,
    ArchiveKind.TAR_ZST: 4,
    ArchiveKind.TAR_BZ2: 4,
    ArchiveKind.TAR: 4,
    ArchiveKind.ZIP: 3,
    ArchiveKind.BINARY: 2,
    ArchiveKind.GZIP: 1,
    ArchiveKind.XZ: 1,
    ArchiveKind.BZIP2: 1,
    ArchiveKind.ZSTD: 1,
    ArchiveKind.UNKNOWN: 0,
}


def _libc_rank(libc: str, prefer: str) -> int:
    if libc == prefer:
        return 3
    if libc in (LIBC_UNKNOWN, "static"):
        return 2  # Go and other static builds name no libc
    return 1


def _rank(c: _Classified, prefer: str) -> tuple[int, int, int, int, int, int]:
    return (
        0 if c.variant else 1,
        _libc_rank(c.libc, prefer),
        c.specificity,
        1 if c.linux_named else 0,
        _FORMAT_RANK[c.kind],
        -len(c.name),
    )


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class ArchChoice:
    arch: str
    asset: str
    kind: ArchiveKind
    libc: str
    reason: str  # why this asset (and, when there were others, why it beat them)
    alternatives: tuple[str, ...] = ()  # the other candidates for this arch, best first
    manual: bool = False
    elf_decides: tuple[str, ...] = ()  # not yet settled: the arches the name may mean


@dataclass(frozen=True)
class RejectedAsset:
    name: str
    reason: str
    arch: str | None = None  # set when it was a candidate for this arch but another won


@dataclass(frozen=True)
class Discovery:
    chosen: tuple[ArchChoice, ...]
    skipped: tuple[SkippedArch, ...]
    rejected: tuple[RejectedAsset, ...]

    def choice(self, arch: str) -> ArchChoice | None:
        return next((c for c in self.chosen if c.arch == arch), None)

    def asset_for(self, arch: str) -> str | None:
        choice = self.choice(arch)
        return choice.asset if choice else None

    @property
    def arches(self) -> tuple[str, ...]:
        return tuple(c.arch for c in self.chosen)

    def skip_reason(self, arch: str) -> str | None:
        return next((s.reason for s in self.skipped if s.arch == arch), None)

    def rejection(self, name: str) -> str | None:
        return next((r.reason for r in self.rejected if r.name == name), None)

    def as_mapping(self) -> dict[str, str]:
        return {c.arch: c.asset for c in self.chosen}


def _match_pattern(pattern: str, names: Sequence[str]) -> list[str]:
    if pattern in names:
        return [pattern]  # an exact asset name, even one holding glob characters like "[x]"
    if pattern.startswith("re:"):
        try:
            regex = re.compile(pattern[3:])
        except re.error as exc:
            raise ConfigError(
                f"invalid regular expression {pattern[3:]!r}: {exc}", field="release_pattern"
            ) from None
        return [n for n in names if regex.fullmatch(n)]
    return [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def _manual_choice(arch: str, pattern: str, names: Sequence[str]) -> ArchChoice | SkippedArch:
    matches = [n for n in _match_pattern(pattern, names) if _ignore_reason(n) not in _NEVER_BINARY]
    if not matches:
        close = difflib.get_close_matches(pattern.removeprefix("re:"), names, n=3, cutoff=0.5)
        hint = f"; closest assets: {', '.join(close)}" if close else ""
        return SkippedArch(arch, f"pattern {pattern!r} matched no release asset{hint}")
    ranked = sorted(matches, key=lambda n: (_FORMAT_RANK[detect_kind(n)], -len(n), n), reverse=True)
    best = ranked[0]
    read = classify(best)
    reason = f"matches pattern {pattern!r}"
    if len(ranked) > 1:
        reason += f" (also matched: {', '.join(ranked[1:])}; preferred the {detect_kind(best).value} archive)"
    if read.arch is not None and read.arch != arch:
        reason += f"; note: the name suggests {read.arch}"
    return ArchChoice(arch, best, detect_kind(best), read.libc, reason, tuple(ranked[1:]), manual=True)


# Ignore reasons that hold even for manual patterns: they are never the binary.
_NEVER_BINARY: Final = frozenset({"checksum file", "signature or attestation", "SBOM"})


def discover(
    assets: Iterable[str | ReleaseAsset],
    arches: Sequence[str] | None = None,
    *,
    manual: Mapping[str, str] | None = None,
    prefer_libc: str = "gnu",
    allow_musl: bool = True,
    project: str | None = None,
) -> Discovery:
    """Choose one asset per wanted Debian arch.

    ``arches``: the Debian arches wanted (default: every supported one). ``manual`` maps an arch
    to a pattern (glob, or ``re:`` regex) that overrides auto-discovery for that arch.
    ``prefer_libc``: ``"gnu"`` (default) or ``"musl"``. ``allow_musl=False`` rejects musl builds.
    ``project``: the package/repository name, ignored at the front of asset names.
    """
    if prefer_libc not in ("gnu", "musl"):
        raise ConfigError(f"prefer_libc must be 'gnu' or 'musl', not {prefer_libc!r}", field="libc")
    names = [a.name if isinstance(a, ReleaseAsset) else a for a in assets]
    wanted = tuple(arches) if arches is not None else _all_arches()
    manual = dict(manual or {})

    rejected: dict[str, RejectedAsset] = {}
    by_arch: dict[str, list[_Classified]] = {}
    node_names = uses_node_names(names)
    for name in names:
        read = classify(name, project, node_names=node_names)
        if read.arch is None:
            rejected[name] = RejectedAsset(name, read.reason)
        elif read.libc == "musl" and not allow_musl:
            rejected[name] = RejectedAsset(name, "musl build, and musl is not allowed", read.arch)
        else:
            by_arch.setdefault(read.arch, []).append(read)

    chosen: list[ArchChoice] = []
    skipped: list[SkippedArch] = []
    manual_names: set[str] = set()
    for arch in wanted:
        if arch in manual:
            result = _manual_choice(arch, manual[arch], names)
            if isinstance(result, ArchChoice):
                chosen.append(result)
                manual_names.add(result.asset)
            else:
                skipped.append(result)
            continue
        auto = _auto_choice(arch, names, by_arch, rejected, prefer_libc)
        if isinstance(auto, ArchChoice):
            chosen.append(auto)
        else:
            skipped.append(auto)

    # Candidates for arches nobody asked for are not choices either; say so.
    for arch, candidates in by_arch.items():
        if arch in wanted:
            continue
        for c in candidates:
            rejected.setdefault(
                c.name, RejectedAsset(c.name, f"{c.reason}, and {arch} was not requested", arch)
            )
    for name in manual_names:
        rejected.pop(name, None)
    order = {n: i for i, n in enumerate(names)}
    return Discovery(
        chosen=tuple(chosen),
        skipped=tuple(skipped),
        rejected=tuple(sorted(rejected.values(), key=lambda r: order.get(r.name, 0))),
    )


def _auto_choice(
    arch: str,
    names: Sequence[str],
    by_arch: Mapping[str, list[_Classified]],
    rejected: dict[str, RejectedAsset],
    prefer_libc: str,
) -> ArchChoice | SkippedArch:
    """The best candidate for ``arch`` (the others go to ``rejected``), or why there is none."""
    # Sorted by name first so that equal ranks resolve the same way on every run.
    by_name = sorted(by_arch.get(arch, []), key=lambda c: c.name)
    candidates = sorted(by_name, key=lambda c: _rank(c, prefer_libc), reverse=True)
    if not candidates:
        return SkippedArch(arch, _why_none(arch, names, rejected, by_arch))
    best = candidates[0]
    reason = best.reason
    if best.libc == "musl" and prefer_libc == "gnu":
        reason += "; musl build (no gnu build for this arch)"
    if best.variant:
        reason += "; only a microarchitecture-level build is available"
    for loser in candidates[1:]:
        rejected[loser.name] = RejectedAsset(loser.name, _why_lost(loser, best, prefer_libc), arch)
    others = tuple(c.name for c in candidates[1:])
    return ArchChoice(arch, best.name, best.kind, best.libc, reason, others, elf_decides=best.elf_decides)


def settle_with_elf(
    found: Discovery, wanted: Sequence[str], read: Callable[[str], Sequence[ElfInfo]]
) -> Discovery:
    """Let the ELF headers decide the choices whose names were ambiguous (``elf_decides``).

    ``read(asset)`` returns the ELF headers of the asset's executables. A choice stays where
    the name put it when the headers agree (or cannot tell, like an ARM binary without a float
    ABI); it moves to the arch the headers show when that arch is wanted and has no asset of
    its own; otherwise the asset is rejected and its arch skipped, with the headers' verdict.
    """
    from multiarch import suites

    chosen = list(found.chosen)
    skipped = list(found.skipped)
    rejected = list(found.rejected)
    for choice in [c for c in found.chosen if c.elf_decides]:
        infos = list(read(choice.asset))
        settled = replace(choice, elf_decides=())
        if not infos:
            settled = replace(settled, reason=f"{choice.reason}; no ELF executable in it to check")
            chosen[chosen.index(choice)] = settled
            continue
        shown = describe(infos[0])
        fits = [a.name for a in suites.default_table().arches if all(runs_as(i, a) for i in infos)]
        free = [a for a in fits if a in wanted and (a == choice.arch or found.choice(a) is None)]
        if choice.arch in fits:
            how = "confirms" if len(fits) == 1 else f"fits {' and '.join(fits)}; kept"
            chosen[chosen.index(choice)] = replace(
                settled, reason=f"{choice.reason}; ELF header {shown} {how}"
            )
            continue
        if free:
            arch = free[0]
            reason = f"{choice.reason}; ELF header {shown} decides {arch}"
            chosen[chosen.index(choice)] = replace(settled, arch=arch, reason=reason)
            skipped = [s for s in skipped if s.arch != arch]
            why = f"{choice.asset} was proposed for {choice.arch}, but its ELF header shows {shown} ({arch})"
        else:
            chosen.remove(choice)
            where = f"{', '.join(fits)}, not requested or already chosen" if fits else "no supported arch"
            rejected.append(RejectedAsset(choice.asset, f"ELF header {shown}: {where}", choice.arch))
            why = f"{choice.asset} was proposed, but its ELF header shows {shown}"
        if found.choice(choice.arch) is choice and all(c.arch != choice.arch for c in chosen):
            skipped.append(SkippedArch(choice.arch, why))
    order = {a: i for i, a in enumerate(wanted)}
    return Discovery(
        chosen=tuple(sorted(chosen, key=lambda c: order.get(c.arch, len(order)))),
        skipped=tuple(skipped),
        rejected=tuple(rejected),
    )


def _why_lost(loser: _Classified, best: _Classified, prefer: str) -> str:
    if loser.variant and not best.variant:
        return f"microarchitecture-level build; {best.name} runs on every {best.arch} CPU"
    if _libc_rank(loser.libc, prefer) < _libc_rank(best.libc, prefer):
        return f"{loser.libc} build; {best.name} is a {best.libc} build and {prefer} is preferred"
    if loser.specificity < best.specificity:
        return f"a less exact match for {best.arch} than {best.name}"
    if _FORMAT_RANK[loser.kind] < _FORMAT_RANK[best.kind]:
        return f"{loser.kind.value} format; preferred the {best.kind.value} of {best.name}"
    return f"another build for {best.arch}; preferred {best.name} (the plainer name)"


def _why_none(
    arch: str,
    names: Sequence[str],
    rejected: Mapping[str, RejectedAsset],
    by_arch: Mapping[str, list[_Classified]],
) -> str:
    related = [r for r in rejected.values() if r.arch == arch]
    if related:
        return f"no usable asset for {arch}: " + "; ".join(f"{r.name}: {r.reason}" for r in related)
    if arch == "armhf" and by_arch.get("armel"):
        soft = ", ".join(c.name for c in by_arch["armel"])
        return (
            f"no hard-float ARM asset for armhf; only soft-float (armel) builds: {soft} "
            "(map one manually if it is static and runs on armhf)"
        )
    if arch == "ppc64el" and any("ppc64" in _tokens(n) or "powerpc64" in _tokens(n) for n in names):
        return "no little-endian ppc64le asset; the release's ppc64/powerpc64 build is big-endian"
    other_os = [r.name for r in rejected.values() if "not Linux" in r.reason and _names_arch(r.name, arch)]
    if other_os:
        return f"no Linux asset for {arch} (only for other systems: {', '.join(other_os)})"
    looked_for = sorted(t for t, a in _arch_tokens().items() if a == arch)
    return f"no release asset names {arch} for Linux (looked for: {', '.join(looked_for)})"


def _names_arch(name: str, arch: str) -> bool:
    table = _arch_tokens()
    return any(table.get(t) == arch for t in _tokens(name))
