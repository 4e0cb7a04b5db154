"""Package metadata: DEBIAN/control, md5sums, changelog.Debian.gz, DEP-5 copyright, man pages.

Everything here is a pure function of a frozen ``PackageMeta`` (and the staged entries), so the
same inputs and ``SOURCE_DATE_EPOCH`` always produce the same bytes.

- control: written with python-debian's deb822 in dpkg-gencontrol's field order;
  ``Installed-Size`` counts KiB per file (rounded up) plus one per directory or symlink, as
  dpkg-gencontrol does.
- changelog.Debian.gz: one entry whose version and distribution are the package's (lintian and
  ``apt changelog`` read it), dated ``SOURCE_DATE_EPOCH``; gzip -9 -n style (no file name,
  mtime = ``SOURCE_DATE_EPOCH``, which lintian accepts because it is not after the entry's date).
- copyright: DEP-5; SPDX expressions become DEP-5 names (``MIT`` is ``Expat`` there). Licenses
  that every Debian system ships in ``/usr/share/common-licenses`` are referenced (lintian
  rejects a copied Apache-2.0 text), the short permissive ones are included in full as their
  terms require.
- a minimal man page for executables upstream ships without one (lintian's ``no-manual-page``
  is a warning, and default packages must be warning-free).

API summary::

    PackageMeta(...)                                  # what the control file and docs need
    control_bytes(meta, installed_size) -> bytes
    installed_size_kib(entries) -> int
    md5sums_bytes(entries, known=None) -> bytes
    changelog_text(meta) -> str / changelog_gz(meta) -> bytes
    copyright_text(meta) -> str
    manpage_gz(command, meta, section=1) -> bytes
    gzip_n(data, mtime=0) -> bytes
    doc_entries(meta) -> list[DataEntry]              # changelog + copyright under /usr/share/doc
"""

from __future__ import annotations

import datetime
import hashlib
import re
import struct
import textwrap
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate

from debian import deb822
from debian.changelog import Changelog

from multiarch.debwriter import DataEntry
from multiarch.errors import PackagingError

DEP5_FORMAT = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"

# dpkg-gencontrol's order for binary package fields.
_RELATION_ORDER = (
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Breaks",
    "Conflicts",
    "Provides",
    "Replaces",
)


@dataclass(frozen=True)
class PackageMeta:
    package: str
    version: str  # full Debian version, e.g. 0.5.11-1+deb12
    upstream_version: str
    architecture: str
    suite: str  # changelog distribution
    maintainer: str
    synopsis: str
    extended_description: str = ""
    section: str = "utils"
    priority: str = "optional"
    homepage: str | None = None
    relations: tuple[tuple[str, str], ...] = ()  # (("Depends", "libc6 (>= 2.17)"), ...)
    license: str | None = None  # SPDX expression
    upstream_name: str = ""
    source_url: str = ""
    copyright_holder: str = ""
    date: int = 0  # SOURCE_DATE_EPOCH
    changes: tuple[str, ...] = field(default=())

    @property
    def upstream(self) -> str:
        return self.upstream_name or self.package


def gzip_n(data: bytes, mtime: int = 0) -> bytes:
    """``gzip -9 -n``: no file name, the given mtime, XFL=2 (max compression), OS=Unix."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15, 9)
    body = comp.compress(data) + comp.flush()
    header = b"\x1f\x8b\x08\x00" + struct.pack("<I", mtime & 0xFFFFFFFF) + b"\x02\x03"
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


# --------------------------------------------------------------------------- control


# lintian's extended-description-line-too-long counts the leading space of a continuation line.
DESCRIPTION_WIDTH = 80


def wrap_extended(text: str, width: int = DESCRIPTION_WIDTH - 1) -> str:
    """Fold the extended description's overlong prose lines at ``width`` columns.

    Lines that start with a space are displayed verbatim by dpkg and apt (policy 5.6.13), so
    they are left alone; so are words longer than the width (a URL is not split).
    """
    out: list[str] = []
    for raw in text.strip("\n").splitlines():
        line = raw.rstrip()
        if len(line) <= width or line.startswith(" "):
            out.append(line)
            continue
        out.extend(textwrap.wrap(line, width=width, break_long_words=False, break_on_hyphens=False))
    return "\n".join(out)


def format_description(synopsis: str, extended: str) -> str:
    """Policy 5.6.13: the synopsis, then extended lines indented by one space, blank lines as ' .'."""
    synopsis = synopsis.strip()
    if not synopsis or "\n" in synopsis:
        raise PackagingError("the package description needs a one-line synopsis")
    lines = [synopsis]
    for raw in wrap_extended(extended).splitlines():
        text = raw.rstrip()
        lines.append(" ." if not text.strip() else " " + text)
    return "\n".join(lines)


def _extended_or_default(meta: PackageMeta) -> str:
    if meta.extended_description.strip():
        return meta.extended_description
    # lintian: extended-description-is-empty is an error; say what the package is at least.
    # format_description folds it to the width lintian accepts.
    where = f" ({meta.homepage})" if meta.homepage else ""
    return (
        f"This package contains the upstream release binaries of {meta.upstream}{where}, "
        f"version {meta.upstream_version}."
    )


def control_bytes(meta: PackageMeta, installed_size: int) -> bytes:
    para = deb822.Deb822()
    para["Package"] = meta.package
    para["Version"] = meta.version
    para["Architecture"] = meta.architecture
    para["Maintainer"] = meta.maintainer
    para["Installed-Size"] = str(installed_size)
    relations = dict(meta.relations)
    for name in _RELATION_ORDER:
        if relations.get(name):
            para[name] = relations[name]
    para["Section"] = meta.section
    para["Priority"] = meta.priority
    if meta.homepage:
        para["Homepage"] = meta.homepage
    para["Description"] = format_description(meta.synopsis, _extended_or_default(meta))
    text = para.dump()
    assert isinstance(text, str)
    return text.encode("utf-8")


def installed_size_kib(entries: Iterable[DataEntry]) -> int:
    """dpkg-gencontrol's estimate: ceil(size / 1024) per file, 1 per directory and symlink."""
    total = 0
    for entry in entries:
        if entry.kind == "file":
            total += (entry.size + 1023) // 1024
        else:
            total += 1
    return total


def merge_relations(*groups: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Join relation fields from several sources (config, shlib depends), dropping duplicates."""
    merged: dict[str, list[str]] = {}
    for group in groups:
        for name, value in group:
            items = merged.setdefault(name, [])
            for item in (v.strip() for v in value.split(",")):
                if item and item not in items:
                    items.append(item)
    return tuple((name, ", ".join(items)) for name, items in merged.items() if items)


def md5sums_bytes(entries: Iterable[DataEntry], known: Mapping[str, str] | None = None) -> bytes:
    """``<md5>  <path>`` for every regular file, in path order (what dh_md5sums writes)."""
    lines = []
    for entry in sorted((e for e in entries if e.kind == "file"), key=lambda e: e.path):
        digest = (known or {}).get(entry.path)
        if digest is None:
            digest = file_md5(entry)
        lines.append(f"{digest}  {entry.path}\n")
    return "".join(lines).encode("utf-8")


def file_md5(entry: DataEntry) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for block in entry.blocks():
        h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- changelog


def _rfc2822(epoch: int) -> str:
    return formatdate(epoch, localtime=False, usegmt=False).replace("-0000", "+0000")


def changelog_text(meta: PackageMeta) -> str:
    changes = meta.changes or (
        f"Package upstream release {meta.upstream_version} of {meta.upstream} for {meta.suite}.",
    )
    log = Changelog()
    log.new_block(
        package=meta.package,
        version=meta.version,
        distributions=meta.suite,
        urgency="medium",
        author=meta.maintainer,
        date=_rfc2822(meta.date),
    )
    log.add_change("")
    for change in changes:
        log.add_change(f"  * {change}")
    log.add_change("")
    return str(log)


def changelog_gz(meta: PackageMeta) -> bytes:
    return gzip_n(changelog_text(meta).encode("utf-8"), meta.date)


# --------------------------------------------------------------------------- copyright

# SPDX identifiers whose DEP-5 short name differs (or that need normalising).
_DEP5_NAMES = {
    "MIT": "Expat",
    "BSD-2-Clause": "BSD-2-clause",
    "BSD-3-Clause": "BSD-3-clause",
    "GPL-2.0": "GPL-2",
    "GPL-2.0-only": "GPL-2",
    "GPL-2.0+": "GPL-2+",
    "GPL-2.0-or-later": "GPL-2+",
    "GPL-3.0": "GPL-3",
    "GPL-3.0-only": "GPL-3",
    "GPL-3.0+": "GPL-3+",
    "GPL-3.0-or-later": "GPL-3+",
    "LGPL-2.1": "LGPL-2.1",
    "LGPL-2.1-only": "LGPL-2.1",
    "LGPL-2.1+": "LGPL-2.1+",
    "LGPL-2.1-or-later": "LGPL-2.1+",
    "LGPL-3.0": "LGPL-3",
    "LGPL-3.0-only": "LGPL-3",
    "LGPL-3.0+": "LGPL-3+",
    "LGPL-3.0-or-later": "LGPL-3+",
    "AGPL-3.0": "AGPL-3",
    "AGPL-3.0-only": "AGPL-3",
    "AGPL-3.0-or-later": "AGPL-3+",
}

# DEP-5 name -> (file in /usr/share/common-licenses, human title). base-files ships these on
# every Debian system, so the copyright file refers to them instead of copying them.
_COMMON_LICENSES = {
    "Apache-2.0": ("Apache-2.0", "the Apache License, Version 2.0"),
    "GPL-2": ("GPL-2", "the GNU General Public License version 2"),
    "GPL-2+": ("GPL-2", "the GNU General Public License version 2"),
    "GPL-3": ("GPL-3", "the GNU General Public License version 3"),
    "GPL-3+": ("GPL-3", "the GNU General Public License version 3"),
    "LGPL-2.1": ("LGPL-2.1", "the GNU Lesser General Public License version 2.1"),
    "LGPL-2.1+": ("LGPL-2.1", "the GNU Lesser General Public License version 2.1"),
    "LGPL-3": ("LGPL-3", "the GNU Lesser General Public License version 3"),
    "LGPL-3+": ("LGPL-3", "the GNU Lesser General Public License version 3"),
    "MPL-2.0": ("MPL-2.0", "the Mozilla Public License, Version 2.0"),
    "CC0-1.0": ("CC0-1.0", "the Creative Commons CC0 1.0 Universal license"),
}

_GPL_LATER = (
    "This program is free software: you can redistribute it and/or modify it under the terms of "
    "{title} as published by the Free Software Foundation, either version {ver} of the License, "
    "or (at your option) any later version."
)

# The BSD licenses share their wording but for the no-endorsement clause of the 3-clause one.
_BSD_HEAD = """\
Redistribution and use in source and binary forms, with or without modification, are
permitted provided that the following conditions are met:

"""
_BSD_CONDITIONS = """\
1. Redistributions of source code must retain the above copyright notice, this list of
   conditions and the following disclaimer.
2. Redistributions in binary form must reproduce the above copyright notice, this list of
   conditions and the following disclaimer in the documentation and/or other materials
   provided with the distribution.
"""
_BSD_NO_ENDORSEMENT = """\
3. Neither the name of the copyright holder nor the names of its contributors may be used to
   endorse or promote products derived from this software without specific prior written
   permission.
"""
_BSD_DISCLAIMER = """\
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR
IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR
SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY
THEORY OF LIABILITY, WHETHER IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR
OTHERWISE) ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
POSSIBILITY OF SUCH DAMAGE."""

# ISC and 0BSD (ISC without its condition) share the grant and the disclaimer.
_ISC_GRANT = """\
Permission to use, copy, modify, and/or distribute this software for any purpose with or
without fee is hereby granted"""
_ISC_CONDITION = """, provided that the above copyright notice and this permission
notice appear in all copies"""
_ISC_DISCLAIMER = """\
THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES WITH REGARD TO THIS
SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE
AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT,
NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE
OF THIS SOFTWARE."""

# Short permissive licenses: their terms require the text to travel with the binaries.
_INLINE_TEXTS = {
    "Expat": """Permission is hereby granted, free of charge, to any person obtaining a copy of this
software and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.""",
    "BSD-2-clause": _BSD_HEAD + _BSD_CONDITIONS + "\n" + _BSD_DISCLAIMER,
    "BSD-3-clause": _BSD_HEAD + _BSD_CONDITIONS + _BSD_NO_ENDORSEMENT + "\n" + _BSD_DISCLAIMER,
    "ISC": _ISC_GRANT + _ISC_CONDITION + ".\n\n" + _ISC_DISCLAIMER,
    "0BSD": _ISC_GRANT + ".\n\n" + _ISC_DISCLAIMER,
    "Zlib": """This software is provided 'as-is', without any express or implied warranty. In no event
will the authors be held liable for any damages arising from the use of this software.

Permission is granted to anyone to use this software for any purpose, including commercial
applications, and to alter it and redistribute it freely, subject to the following
restrictions:

1. The origin of this software must not be misrepresented; you must not claim that you wrote
   the original software. If you use this software in a product, an acknowledgment in the
   product documentation would be appreciated but is not required.
2. Altered source versions must be plainly marked as such, and must not be misrepresented as
   being the original software.
3. This notice may not be removed or altered from any source distribution.""",
    "Unlicense": """This is free and unencumbered software released into the public domain.

Anyone is free to copy, modify, publish, use, compile, sell, or distribute this software,
either in source code form or as a compiled binary, for any purpose, commercial or
non-commercial, and by any means.

In jurisdictions that recognize copyright laws, the author or authors of this software
dedicate any and all copyright interest in the software to the public domain. We make this
dedication for the benefit of the public at large and to the detriment of our heirs and
successors. We intend this dedication to be an overt act of relinquishment in perpetuity of
all present and future rights to this software under copyright law.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

For more information, please refer to <https://unlicense.org/>""",
}

_SPDX_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9.+-]+)")


def dep5_license(spdx: str | None) -> tuple[str, tuple[str, ...]]:
    """An SPDX expression as a DEP-5 License value plus the license names it uses.

    ``MIT OR Apache-2.0`` -> ``("Expat or Apache-2.0", ("Expat", "Apache-2.0"))``.
    """
    if not spdx or not spdx.strip() or spdx.strip().upper() in ("NOASSERTION", "NONE"):
        return "other", ("other",)
    out: list[str] = []
    names: list[str] = []
    pos = 0
    text = spdx.strip()
    expect_exception = False
    while pos < len(text):
        match = _SPDX_TOKEN.match(text, pos)
        if match is None:
            raise PackagingError(f"cannot read license expression {spdx!r} at {text[pos:]!r}")
        token = match.group(1)
        pos = match.end()
        upper = token.upper()
        if upper in ("OR", "AND"):
            out.append(upper.lower())
        elif upper == "WITH":
            expect_exception = True
        elif token in "()":
            out.append(token)
        elif expect_exception:
            out[-1] = f"{out[-1]} with {token} exception"
            expect_exception = False
        else:
            name = _DEP5_NAMES.get(token, token)
            out.append(name)
            if name not in names:
                names.append(name)
    value = " ".join(out).replace("( ", "(").replace(" )", ")")
    return value, tuple(names)


def _indent(text: str) -> str:
    return "\n".join(
        " ." if not line.strip() else " " + line.rstrip() for line in text.strip("\n").splitlines()
    )


def license_paragraph_text(name: str, source_url: str = "") -> str:
    """The body of a stand-alone ``License: <name>`` paragraph."""
    if name in _INLINE_TEXTS:
        return _INLINE_TEXTS[name]
    base = name.rstrip("+")
    common = _COMMON_LICENSES.get(name)
    if common is not None:
        file, title = common
        text = ""
        if name.endswith("+"):
            version = re.sub(r"^[A-Z]+-", "", base)
            text = _GPL_LATER.format(title=title.rsplit(" version", 1)[0], ver=version) + "\n\n"
        return text + (
            f"On Debian systems, the complete text of {title} can be found in "
            f'"/usr/share/common-licenses/{file}".'
        )
    where = f" at {source_url}" if source_url else ""
    if name == "other":
        return (
            "The upstream project does not declare its license in a machine-readable form; "
            f"see its source{where}."
        )
    return f"The complete text of the {name} license is distributed with the upstream source{where}."


def copyright_text(meta: PackageMeta) -> str:
    value, names = dep5_license(meta.license)
    holder = meta.copyright_holder or f"The {meta.upstream} authors and contributors"
    if not re.search(r"\b\d{4}\b", holder):
        # A notice names a year (lintian: copyright-without-copyright-notice). Upstream's first
        # year is unknown here; the release being packaged is certainly covered.
        year = datetime.datetime.fromtimestamp(meta.date, tz=datetime.UTC).year
        holder = f"{year} {holder}"
    header = deb822.Deb822()
    header["Format"] = DEP5_FORMAT
    header["Upstream-Name"] = meta.upstream
    if meta.source_url or meta.homepage:
        header["Source"] = meta.source_url or meta.homepage or ""
    files = deb822.Deb822()
    files["Files"] = "*"
    files["Copyright"] = holder
    files["License"] = value
    files["Comment"] = (
        f"This package repackages the upstream release binaries of {meta.upstream}\n"
        f" {meta.upstream_version} unmodified."
    )
    parts = [str(header.dump()), str(files.dump())]
    for name in names:
        parts.append(f"License: {name}\n{_indent(license_paragraph_text(name, meta.source_url))}\n")
    return "\n".join(parts)


# --------------------------------------------------------------------------- man pages


def _roff(text: str) -> str:
    """Escape text for a roff paragraph: backslashes, and control characters at line start."""
    out = []
    for line in text.replace("\\", "\\e").splitlines():
        line = line.strip()
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return "\n".join(out)


def manpage_text(command: str, meta: PackageMeta, section: int = 1) -> str:
    """A short but correct man page for an executable upstream documents only with ``--help``."""
    iso = datetime.datetime.fromtimestamp(meta.date, tz=datetime.UTC).strftime("%Y-%m-%d")
    whatis = meta.synopsis[:1].lower() + meta.synopsis[1:] if meta.synopsis else meta.upstream
    paragraphs = [p for p in re.split(r"\n\s*\n", meta.extended_description.strip()) if p.strip()]
    lines = [
        f'.TH "{command.upper()}" "{section}" "{iso}" "{meta.upstream} {meta.upstream_version}" '
        '"User Commands"',
        ".SH NAME",
        f"{_roff(command)} \\- {_roff(whatis)}",
        ".SH SYNOPSIS",
        f".B {_roff(command)}",
        ".RI [ options ]",
        ".SH DESCRIPTION",
    ]
    for para in paragraphs or [whatis]:
        lines.append(_roff(" ".join(para.split())))
        lines.append(".PP")
    lines += [
        f"This manual page was written for the Debian package {_roff(meta.package)} because the upstream",
        "release ships none. Run",
        f".B {_roff(command)} \\-\\-help",
        "for the complete list of commands and options.",
    ]
    if meta.homepage or meta.source_url:
        lines += [".SH SEE ALSO", _roff(meta.homepage or meta.source_url)]
    return "\n".join(lines) + "\n"


def manpage_gz(command: str, meta: PackageMeta, section: int = 1) -> bytes:
    return gzip_n(manpage_text(command, meta, section).encode("utf-8"), meta.date)


# --------------------------------------------------------------------------- doc entries


def doc_entries(meta: PackageMeta) -> list[DataEntry]:
    doc = f"usr/share/doc/{meta.package}"
    return [
        DataEntry.blob(f"{doc}/changelog.Debian.gz", changelog_gz(meta)),
        DataEntry.blob(f"{doc}/copyright", copyright_text(meta).encode("utf-8")),
    ]
