"""ELF headers: what a binary is built for, and whether that is the Debian arch we package for.

Upstream once shipped an x86-64 binary under an i386 asset name; packaging it would give i386
users a package that installs and then fails with "Exec format error". So every executable is
checked against the target's ``ArchInfo`` (from ``multiarch.suites``): ELF class, byte order,
``e_machine``, the OS/ABI byte, and for 32-bit ARM the EABI version and float ABI.

The parser also reads what packaging needs from the dynamic section: the program interpreter,
``DT_NEEDED`` libraries and the highest ``GLIBC_x.y`` symbol version (to derive ``libc6 (>= x.y)``
the way ``dpkg-shlibdeps`` would, which cannot run for foreign architectures here), and whether
the file still carries a symbol table (lintian's ``unstripped-binary-or-object``).

API summary::

    read_elf(path) -> ElfInfo | None          # None: not an ELF file; PackagingError: truncated
    parse_elf(read) -> ElfInfo                # from a (offset, size) -> bytes reader
    verify_arch(info, arch, *, path, asset="") -> None   # ArchitectureError on mismatch
    runs_as(info, arch) -> bool               # verify_arch as a question
    describe(info) -> str                     # "x86-64 (64-bit little-endian)"
    shlib_depends(infos) -> tuple[str, ...]   # ("libc6 (>= 2.17)", "libgcc-s1")
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from multiarch.errors import ArchitectureError, PackagingError

ELF_MAGIC: Final = b"\x7fELF"

ET_EXEC: Final = 2
ET_DYN: Final = 3
PT_LOAD: Final = 1
PT_DYNAMIC: Final = 2
PT_INTERP: Final = 3
SHT_SYMTAB: Final = 2
DT_NULL: Final = 0
DT_NEEDED: Final = 1
DT_STRTAB: Final = 5
DT_STRSZ: Final = 10
DT_SONAME: Final = 14
DT_FLAGS_1: Final = 0x6FFFFFFB
DT_VERNEED: Final = 0x6FFFFFFE
DT_VERNEEDNUM: Final = 0x6FFFFFFF
DF_1_PIE: Final = 0x08000000

EM_ARM: Final = 40
EF_ARM_EABIMASK: Final = 0xFF000000
EF_ARM_ABI_FLOAT_SOFT: Final = 0x200
EF_ARM_ABI_FLOAT_HARD: Final = 0x400

# OS/ABI bytes a Linux binary may carry: System V (most toolchains) and GNU/Linux (glibc IFUNC).
_LINUX_OSABI: Final = frozenset({0, 3})
_OSABI_NAMES: Final = {0: "System V", 3: "GNU/Linux", 6: "Solaris", 9: "FreeBSD", 12: "OpenBSD", 2: "NetBSD"}

MACHINE_NAMES: Final[dict[int, str]] = {
    2: "SPARC",
    3: "i386",
    8: "MIPS",
    20: "PowerPC",
    21: "PowerPC64",
    22: "S/390",
    40: "ARM",
    43: "SPARC V9",
    50: "IA-64",
    62: "x86-64",
    183: "AArch64",
    243: "RISC-V",
    258: "LoongArch",
}

# Refuse absurd tables in malformed files instead of looping over them.
_MAX_PHNUM: Final = 4096
_MAX_SHNUM: Final = 65535
_MAX_DYN: Final = 65536
_MAX_VERNEED: Final = 4096


class ArchTarget(Protocol):
    """The parts of ``multiarch.suites.ArchInfo`` the check needs."""

    @property
    def name(self) -> str: ...
    @property
    def elf_class(self) -> int: ...
    @property
    def endianness(self) -> str: ...
    @property
    def e_machine(self) -> int: ...
    @property
    def arm_float_abi(self) -> str | None: ...


@dataclass(frozen=True)
class ElfInfo:
    elf_class: int  # 32 or 64
    endianness: str  # "little" | "big"
    osabi: int
    elf_type: int
    machine: int
    flags: int
    interpreter: str | None
    needed: tuple[str, ...]
    soname: str | None
    is_pie: bool
    has_symtab: bool
    glibc_versions: tuple[tuple[int, ...], ...]  # every GLIBC_x.y referenced, sorted

    @property
    def machine_name(self) -> str:
        return MACHINE_NAMES.get(self.machine, f"machine {self.machine}")

    @property
    def is_static(self) -> bool:
        return self.interpreter is None and not self.needed

    @property
    def is_executable(self) -> bool:
        """A program (not a shared library): ET_EXEC, or ET_DYN with an interpreter or PIE flag."""
        if self.elf_type == ET_EXEC:
            return True
        return self.elf_type == ET_DYN and (self.interpreter is not None or self.is_pie)

    @property
    def arm_eabi(self) -> int:
        return (self.flags & EF_ARM_EABIMASK) >> 24 if self.machine == EM_ARM else 0

    @property
    def arm_float_abi(self) -> str | None:
        """``hard``/``soft`` from e_flags, else from the interpreter's name, else None."""
        if self.machine != EM_ARM:
            return None
        if self.flags & EF_ARM_ABI_FLOAT_HARD:
            return "hard"
        if self.flags & EF_ARM_ABI_FLOAT_SOFT:
            return "soft"
        if self.interpreter:
            if "armhf" in self.interpreter:
                return "hard"
            if self.interpreter.endswith("ld-linux.so.3"):
                return "soft"
        return None


def describe(info: ElfInfo) -> str:
    text = f"{info.machine_name} ({info.elf_class}-bit {info.endianness}-endian"
    if info.machine == EM_ARM:
        text += f", EABI{info.arm_eabi}"
        if info.arm_float_abi:
            text += f", {info.arm_float_abi}-float"
    return text + ")"


def _expected(arch: ArchTarget) -> str:
    text = (
        f"{MACHINE_NAMES.get(arch.e_machine, arch.e_machine)} ({arch.elf_class}-bit {arch.endianness}-endian"
    )
    if arch.arm_float_abi:
        text += f", {arch.arm_float_abi}-float"
    return text + ")"


Reader = Callable[[int, int], bytes]


def _reader_for(path: Path) -> tuple[Reader, Callable[[], None]]:
    fh = open(path, "rb")  # noqa: SIM115 - closed by the returned closer

    def read(offset: int, size: int) -> bytes:
        if offset < 0 or size < 0:
            return b""
        fh.seek(offset)
        return fh.read(size)

    return read, fh.close


def read_elf(path: Path | str) -> ElfInfo | None:
    """Parse ``path``; None when it is not an ELF file, PackagingError when it is a broken one."""
    read, close = _reader_for(Path(path))
    try:
        if read(0, 4) != ELF_MAGIC:
            return None
        try:
            return parse_elf(read)
        except PackagingError as exc:
            raise PackagingError(f"{path}: {exc.message}") from exc
    finally:
        close()


def is_elf(path: Path | str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


@dataclass(frozen=True)
class _Segment:
    kind: int
    offset: int
    vaddr: int
    filesz: int


def parse_elf(read: Reader) -> ElfInfo:
    """Parse an ELF image through ``read(offset, size)``; every table is bounds-checked."""
    ident = read(0, 16)
    if len(ident) < 16 or ident[:4] != ELF_MAGIC:
        raise PackagingError("truncated ELF identification")
    ei_class, ei_data, osabi = ident[4], ident[5], ident[7]
    if ei_class not in (1, 2) or ei_data not in (1, 2):
        raise PackagingError(f"invalid ELF class {ei_class} or byte order {ei_data}")
    is64 = ei_class == 2
    end = "<" if ei_data == 1 else ">"
    word = "Q" if is64 else "I"
    hdr_fmt = f"{end}HHI{word}{word}{word}IHHHHHH"
    hdr_size = struct.calcsize(hdr_fmt)
    raw = read(16, hdr_size)
    if len(raw) < hdr_size:
        raise PackagingError("truncated ELF header")
    (e_type, e_machine, _ver, _entry, phoff, shoff, flags, _ehsize, phentsize, phnum, shentsize, shnum, _) = (
        struct.unpack(hdr_fmt, raw)
    )

    segments: list[_Segment] = []
    ph_fmt = f"{end}IIQQQQQQ" if is64 else f"{end}IIIIIIII"
    ph_size = struct.calcsize(ph_fmt)
    if phnum and phentsize >= ph_size and phnum <= _MAX_PHNUM:
        table = read(phoff, phentsize * phnum)
        for i in range(len(table) // phentsize):
            fields = struct.unpack_from(ph_fmt, table, i * phentsize)
            if is64:
                p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = fields[:6]
            else:
                p_type, p_offset, p_vaddr, _paddr, p_filesz = fields[:5]
            segments.append(_Segment(p_type, p_offset, p_vaddr, p_filesz))

    interpreter: str | None = None
    for seg in segments:
        if seg.kind == PT_INTERP and 0 < seg.filesz <= 4096:
            interpreter = read(seg.offset, seg.filesz).split(b"\0", 1)[0].decode("utf-8", "replace") or None
            break

    needed: list[str] = []
    soname: str | None = None
    is_pie = False
    glibc: set[tuple[int, ...]] = set()
    dyn = next((s for s in segments if s.kind == PT_DYNAMIC), None)
    if dyn is not None:
        needed, soname, is_pie, glibc = _parse_dynamic(read, dyn, segments, end, is64)

    has_symtab = False
    sh_fmt = f"{end}IIQQQQIIQQ" if is64 else f"{end}IIIIIIIIII"
    sh_size = struct.calcsize(sh_fmt)
    if shnum and shentsize >= sh_size and shnum <= _MAX_SHNUM:
        table = read(shoff, shentsize * shnum)
        for i in range(len(table) // shentsize):
            sh_type = struct.unpack_from(sh_fmt, table, i * shentsize)[1]
            if sh_type == SHT_SYMTAB:
                has_symtab = True
                break

    return ElfInfo(
        elf_class=64 if is64 else 32,
        endianness="little" if ei_data == 1 else "big",
        osabi=osabi,
        elf_type=e_type,
        machine=e_machine,
        flags=flags,
        interpreter=interpreter,
        needed=tuple(needed),
        soname=soname,
        is_pie=is_pie,
        has_symtab=has_symtab,
        glibc_versions=tuple(sorted(glibc)),
    )


def _file_offset(addr: int, segments: list[_Segment]) -> int | None:
    """Dynamic-section pointers are virtual addresses; map them through the PT_LOAD segments."""
    for seg in segments:
        if seg.kind == PT_LOAD and seg.vaddr <= addr < seg.vaddr + seg.filesz:
            return addr - seg.vaddr + seg.offset
    return None


_GLIBC_VERSION = re.compile(r"^GLIBC_([0-9]+(?:\.[0-9]+)*)$")


def _parse_dynamic(
    read: Reader, dyn: _Segment, segments: list[_Segment], end: str, is64: bool
) -> tuple[list[str], str | None, bool, set[tuple[int, ...]]]:
    entry_fmt = f"{end}qQ" if is64 else f"{end}iI"
    entry_size = struct.calcsize(entry_fmt)
    count = min(dyn.filesz // entry_size, _MAX_DYN)
    table = read(dyn.offset, count * entry_size)
    tags: list[tuple[int, int]] = []
    for i in range(len(table) // entry_size):
        tag, value = struct.unpack_from(entry_fmt, table, i * entry_size)
        if tag == DT_NULL:
            break
        tags.append((tag & 0xFFFFFFFF if not is64 else tag & 0xFFFFFFFFFFFFFFFF, value))

    def first(t: int) -> int | None:
        return next((v for k, v in tags if k == t), None)

    strtab_addr = first(DT_STRTAB)
    strsz = first(DT_STRSZ) or 0
    strtab = b""
    if strtab_addr is not None and 0 < strsz <= 64 * 1024 * 1024:
        off = _file_offset(strtab_addr, segments)
        if off is not None:
            strtab = read(off, strsz)

    def string(index: int) -> str:
        if index < 0 or index >= len(strtab):
            return ""
        return strtab[index : strtab.find(b"\0", index) if b"\0" in strtab[index:] else None].decode(
            "utf-8", "replace"
        )

    needed = [s for k, v in tags if k == DT_NEEDED and (s := string(v))]
    soname_index = first(DT_SONAME)
    soname = string(soname_index) if soname_index is not None else None
    is_pie = bool((first(DT_FLAGS_1) or 0) & DF_1_PIE)

    glibc: set[tuple[int, ...]] = set()
    verneed_addr = first(DT_VERNEED)
    verneed_num = min(first(DT_VERNEEDNUM) or 0, _MAX_VERNEED)
    if verneed_addr is not None and verneed_num and strtab:
        off = _file_offset(verneed_addr, segments)
        seen = 0
        while off is not None and seen < verneed_num:
            seen += 1
            raw = read(off, 16)
            if len(raw) < 16:
                break
            _version, cnt, _file, aux, nxt = struct.unpack(f"{end}HHIII", raw)
            aux_off = off + aux
            for _ in range(min(cnt, _MAX_VERNEED)):
                raw_aux = read(aux_off, 16)
                if len(raw_aux) < 16:
                    break
                _hash, _flags, _other, name, aux_next = struct.unpack(f"{end}IHHII", raw_aux)
                match = _GLIBC_VERSION.match(string(name))
                if match:
                    glibc.add(tuple(int(p) for p in match.group(1).split(".")))
                if not aux_next:
                    break
                aux_off += aux_next
            if not nxt:
                break
            off += nxt
    return needed, soname, is_pie, glibc


def verify_arch(info: ElfInfo, arch: ArchTarget, *, path: str, asset: str = "") -> None:
    """Raise ArchitectureError unless ``info`` can run on Debian architecture ``arch``."""
    where = f"{asset}: {path}" if asset else path

    def fail(why: str) -> ArchitectureError:
        return ArchitectureError(
            f"{where}: {why}",
            remediation=(
                f"Check which release asset is mapped to {arch.name}; upstream may have uploaded the wrong "
                "build under this name.",
                "Pin the right asset for this architecture in package.yaml (architectures: map form).",
            ),
        )

    if (info.machine, info.elf_class, info.endianness) != (arch.e_machine, arch.elf_class, arch.endianness):
        raise fail(f"{describe(info)} binary offered as {arch.name} (which needs {_expected(arch)})")
    if info.osabi not in _LINUX_OSABI:
        osabi = _OSABI_NAMES.get(info.osabi, f"OS/ABI {info.osabi}")
        raise fail(f"{osabi} binary offered as {arch.name} (Linux needs System V or GNU/Linux OS/ABI)")
    if info.machine == EM_ARM:
        # Debian's ARM ports are EABI (version 4 or 5); the old ABI has been gone since lenny.
        if info.arm_eabi not in (4, 5):
            raise fail(f"ARM binary with EABI version {info.arm_eabi} offered as {arch.name} (needs EABI4/5)")
        have = info.arm_float_abi
        want = arch.arm_float_abi
        if want is not None and have is not None and have != want:
            other = "armhf" if have == "hard" else "armel"
            raise fail(f"{have}-float ({other}) binary offered as {arch.name} (which is {want}-float)")


def runs_as(info: ElfInfo, arch: ArchTarget) -> bool:
    """Whether ``info`` can run on ``arch``: ``verify_arch`` without the error.

    An ARM binary that records no float ABI (a static Go build) runs as armel and armhf alike.
    """
    try:
        verify_arch(info, arch, path="")
    except ArchitectureError:
        return False
    return True


# Libraries every Debian arch we target gets from these packages (glibc's own, then GCC's).
_LIBC_SONAMES: Final = re.compile(
    r"^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|librt\.so\.1|libutil\.so\.1|"
    r"libresolv\.so\.2|libanl\.so\.1|ld-linux.*\.so\.[0-9]|ld64\.so\.[12]|ld\.so\.1)$"
)
_OTHER_SHLIBS: Final = {"libgcc_s.so.1": "libgcc-s1", "libstdc++.so.6": "libstdc++6"}


def shlib_depends(infos: Iterable[ElfInfo]) -> tuple[str, ...]:
    """Depends for the shared libraries a set of binaries links against, like dpkg-shlibdeps:
    ``libc6 (>= highest GLIBC_x.y referenced)`` plus GCC's runtime libraries. Libraries outside
    this known set are left to the package's configured ``depends``."""
    libc = False
    version: tuple[int, ...] = ()
    others: set[str] = set()
    for info in infos:
        for lib in info.needed:
            if _LIBC_SONAMES.match(lib):
                libc = True
            elif lib in _OTHER_SHLIBS:
                others.add(_OTHER_SHLIBS[lib])
        if info.interpreter is not None:
            libc = True
        if info.glibc_versions:
            version = max(version, info.glibc_versions[-1])
    result: list[str] = []
    if libc:
        result.append(f"libc6 (>= {'.'.join(map(str, version))})" if version else "libc6")
    result.extend(sorted(others))
    return tuple(result)
