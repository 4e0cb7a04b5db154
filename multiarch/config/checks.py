"""Checks after the schema, each error naming the file, line and field of the value at fault."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from multiarch import suites as suite_table
from multiarch.config.fields import PathKey, format_path, line_for
from multiarch.config.model import RELATION_FIELDS, InstallSpec
from multiarch.config.templates import PLACEHOLDERS, check_template
from multiarch.errors import ConfigError
from multiarch.suites import ArchInfo

MAX_SYNOPSIS = 80  # lintian warns above this, and default packages must be lintian-clean

# lintian's description-synopsis-starts-with-article: a synopsis is a noun phrase, not a sentence.
# "pkg: tag …" or "pkg binary: tag …": lintian's own override syntax, package first.
_OVERRIDE_PACKAGE = re.compile(r"^(?P<package>[a-z0-9][a-z0-9+.-]+)(?: binary)?:\s*(?P<rest>.*)$")
_ARTICLE = re.compile(r"^(?P<article>an?|the)\s+(?P<rest>\S.*)$", re.IGNORECASE)

# Debian archive sections (policy 2.4), so a typo gets a hint instead of a lintian warning later.
_SECTIONS_TEXT = (
    "admin cli-mono comm database debian-installer debug devel doc editors education electronics "
    "embedded fonts games gnome gnu-r gnustep graphics hamradio haskell httpd interpreters "
    "introspection java javascript kde kernel libdevel libs lisp localization mail math metapackages "
    "misc net news ocaml oldlibs otherosfs perl php python ruby rust science shells sound tasks tex "
    "text utils vcs video web x11 xfce zope"
)
SECTIONS = tuple(_SECTIONS_TEXT.split())

_PKG = r"[a-z0-9][a-z0-9+.-]+"
_RELATION = re.compile(
    rf"^{_PKG}(?::[a-z0-9-]+)?"
    r"(?:\s*\(\s*(?P<op><<|<=|=|>=|>>)\s*(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*\s*\))?"
    r"(?:\s*\[\s*!?[a-z0-9-]+(?:\s+!?[a-z0-9-]+)*\s*\])?"
    r"(?:\s*<\s*!?[a-z0-9.-]+(?:\s+!?[a-z0-9.-]+)*\s*>)*$"
)


class Checker:
    """Semantic checks of one document; every method raises ConfigError at the value's line."""

    def __init__(self, file: str, lines: Mapping[PathKey, int]) -> None:
        self.file = file
        self.lines = lines
        # What the checks changed on the user's behalf; the plan and the build log show them.
        self.notes: list[str] = []

    def error(self, path: PathKey, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, line=line_for(path, self.lines), field=format_path(path))

    def template(self, value: str, path: PathKey, allowed: Sequence[str] = PLACEHOLDERS) -> str:
        check_template(
            value, field=format_path(path), file=self.file, line=line_for(path, self.lines), allowed=allowed
        )
        return value

    def template_in(
        self, mapping: Mapping[str, Any], key: str, path: PathKey, default: str | None = None
    ) -> str | None:
        """The template ``mapping[key]`` (checked; ``path`` is the mapping's), else ``default``."""
        return self.template(mapping[key], (*path, key)) if key in mapping else default

    def paths(self, value: Any, path: PathKey) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (self.template(value, path),)
        return tuple(self.template(v, (*path, i)) for i, v in enumerate(value))

    def arch(self, name: str, path: PathKey) -> ArchInfo:
        try:
            return suite_table.get_arch(name)
        except ConfigError as exc:
            raise self.error(path, exc.detail) from None

    def suite(self, name: str, path: PathKey) -> None:
        try:
            suite_table.get_suite(name)
        except ConfigError as exc:
            raise self.error(path, exc.detail) from None

    def relations(self, key: str, value: Any) -> tuple[str, ...]:
        """A relation field (a string or a list of strings) as one relation per entry."""
        if value is None:
            return ()
        items: list[tuple[PathKey, str]] = (
            [((key,), value)] if isinstance(value, str) else [((key, i), v) for i, v in enumerate(value)]
        )
        out: list[str] = []
        for path, text in items:
            for relation in text.split(","):
                relation = " ".join(relation.split())
                if not relation:
                    if isinstance(value, str) and not text.strip():
                        continue
                    raise self.error(path, f"empty relation in {text!r}")
                out.append(self._relation(key, relation, path))
        return tuple(out)

    def _relation(self, key: str, relation: str, path: PathKey) -> str:
        alternatives = [a.strip() for a in relation.split("|")]
        if len(alternatives) > 1 and not RELATION_FIELDS[key][1]:
            raise self.error(path, f"alternatives ('|') are not allowed in {key}: {relation!r}")
        for alternative in alternatives:
            match = _RELATION.match(alternative)
            if not match:
                raise self.error(
                    path,
                    f"{alternative!r} is not a Debian relation (expected e.g. 'libc6 (>= 2.31)')",
                )
            if key == "provides" and match.group("op") not in (None, "="):
                raise self.error(path, f"provides allows only '=' versions: {alternative!r}")
        return " | ".join(alternatives)

    def rename(self, value: Any, path: PathKey) -> tuple[str | None, tuple[tuple[str, str], ...]]:
        """``binary_rename``: one new name (a string), or {found name: new name} pairs."""
        if value is None:
            return None, ()
        if isinstance(value, str):
            return self.template(value, path), ()
        return None, tuple((str(k), self.template(v, (*path, str(k)))) for k, v in value.items())

    def install(self, value: Any, path: PathKey) -> InstallSpec | None:
        if value is None:
            return None
        return InstallSpec(**{k: self.paths(v, (*path, k)) for k, v in value.items()})

    def description(self, text: str, package: str = "") -> str:
        """The synopsis line, a newline and the body, with the synopsis short enough for lintian."""
        lines = [line.rstrip() for line in text.strip("\n").splitlines()]
        synopsis = lines[0].strip() if lines else ""
        if not synopsis:
            raise self.error(("description",), "the first line (the synopsis) must not be empty")
        if len(synopsis) > MAX_SYNOPSIS:
            raise self.error(
                ("description",),
                f"the first line (the synopsis) is {len(synopsis)} characters; "
                f"keep it at most {MAX_SYNOPSIS} and put the rest on the following lines",
            )
        synopsis = self._without_article(synopsis)
        if package and re.match(rf"{re.escape(package)}\b", synopsis, re.IGNORECASE):
            # lintian's description-starts-with-package-name is an error, and no rewording of
            # ours would say what the user means; the synopsis says what the package is.
            raise self.error(
                ("description",),
                f"the synopsis {synopsis!r} starts with the package name {package!r} (a lintian "
                "error: the name is shown next to it anyway); say what the package is, e.g. "
                "'Fast Python package manager' rather than 'uv is a fast …'",
            )
        body = "\n".join(lines[1:]).strip("\n")
        return synopsis + ("\n" + body if body else "")

    def _without_article(self, synopsis: str) -> str:
        """The synopsis without a leading "A", "An" or "The", which lintian warns about.

        The fix is mechanical and always right for a noun phrase, so it is made rather than
        refused; the note says what was packaged instead.
        """
        match = _ARTICLE.match(synopsis)
        if match is None:
            return synopsis
        rest = match["rest"]
        fixed = rest[:1].upper() + rest[1:]
        line = line_for(("description",), self.lines)
        where = f"{self.file}:{line}" if line else self.file
        self.notes.append(
            f"{where}: description: the synopsis starts with the article {match['article']!r} "
            f"(lintian: description-synopsis-starts-with-article); packaged as {fixed!r}"
        )
        return fixed

    def lintian_overrides(self, value: Any, package: str) -> tuple[tuple[str, str], ...]:
        """``lintian_overrides``: (override without the package prefix, reason) per entry.

        An entry may name the package (``pkg: tag``, lintian's own file format) but only this one:
        an override for another package would silently never apply.
        """
        out: list[tuple[str, str]] = []
        for i, item in enumerate(value or ()):
            path: PathKey = ("lintian_overrides", i)
            text, reason = (item, "") if isinstance(item, str) else (item["override"], item.get("reason", ""))
            if not isinstance(item, str):
                path = (*path, "override")
            prefixed = _OVERRIDE_PACKAGE.match(text)
            if prefixed is not None:
                if prefixed["package"] != package:
                    raise self.error(
                        path, f"the override names package {prefixed['package']!r}, but this is {package!r}"
                    )
                text = prefixed["rest"]
            override = " ".join(text.split())
            if not override:
                raise self.error(path, "an override needs a lintian tag")
            out.append((override, " ".join(reason.split())))
        return tuple(out)

    def section(self, section: str) -> str:
        base_section = section.rsplit("/", 1)[-1]
        if base_section not in SECTIONS:
            hint = difflib.get_close_matches(base_section, SECTIONS, n=1)
            raise self.error(
                ("section",),
                f"unknown Debian section {section!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""),
            )
        return section
