"""Bad package.yaml files: generated and hand-picked, never a traceback.

Two generators (hypothesis), 300+ examples between them:

- *text corruption*: a real example config with characters deleted, YAML punctuation and
  control characters inserted, lines duplicated, indentation broken, invalid UTF-8 spliced in.
  Anything may come out, so the check is the contract every error keeps: a ``ConfigError``
  (category ``configuration``) naming the file, with a line inside the file unless the whole
  file is the problem. When the corrupted file still loads, everything the builder asks of a
  config afterwards must work too (a late ``KeyError`` is as bad as an early one).
- *wrong types*: a valid config with one field (top level or per arch) set to a value of a
  type the schema does not allow. Here the error must name exactly that field and that line.

Hand-picked cases cover what a generator would rarely build: alias bombs, self-referencing
aliases, custom tags that would run code, a 50 MB file, /dev/zero, NUL bytes, UTF-16, deep
nesting, and the usual human mistakes. Running these through the entrypoint (build-summary.json
still written and valid) is in ``test_bad_inputs.py``, next to the other entrypoint runs.
"""

from __future__ import annotations

import io
import os
import re
import resource
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from multiarch.config import PackageConfig, load_config
from multiarch.errors import ConfigError
from tests.reliability.conftest import Figures

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*/package.yaml"))
GENERATED = "Bad configuration (generated)"
HAND = "Bad configuration (hand-picked)"
# Errors about the file as a whole have no line; everything else must point into the file.
WHOLE_FILE = re.compile(r"file not found|is a directory|cannot read|larger than|file is empty")


def _exercise(config: PackageConfig) -> None:
    """What the builder asks of a loaded config; none of it may raise anything but ConfigError."""
    config.configured_arches()
    config.arch_specs(tag="v1.2.3")
    config.suites()
    config.relation_fields()
    config.control_description()
    config.resolve_assets_dir("v1.2.3")


def check_error(err: ConfigError, path: Path, text_lines: int | None) -> None:
    """The contract of every configuration error."""
    assert err.category == "configuration"
    assert err.file == str(path), f"error does not name the file: {err}"
    assert str(path) in str(err)
    if WHOLE_FILE.search(err.detail) is None:
        assert err.line is not None, f"error has no line: {err}"
        if text_lines is not None:
            # A missing-key error may point one past the last line (end of file), never further.
            assert 1 <= err.line <= text_lines + 1, f"line {err.line} outside a {text_lines}-line file"
    assert "Traceback" not in str(err)


def load_expecting_error(path: Path, text_lines: int | None = None) -> ConfigError:
    try:
        config = load_config(path)
        _exercise(config)
    except ConfigError as err:
        check_error(err, path, text_lines)
        return err
    raise AssertionError(f"{path.name}: loaded without a configuration error")


# --------------------------------------------------------------------------- generated: text

PUNCTUATION = ":{}[]&*!|>'\"%@`#-?,\\ \t\n"
JUNK_TEXT = st.text(
    alphabet=st.sampled_from(PUNCTUATION)
    | st.sampled_from(string.ascii_letters + string.digits)
    | st.characters(codec="utf-8"),
    min_size=1,
    max_size=12,
)
EDIT = st.one_of(
    st.tuples(st.just("delete"), st.floats(0, 1), st.integers(1, 40)),
    st.tuples(st.just("insert"), st.floats(0, 1), JUNK_TEXT),
    st.tuples(st.just("dup-line"), st.floats(0, 1), st.none()),
    st.tuples(st.just("indent"), st.floats(0, 1), st.sampled_from([" ", "  ", "\t", "   - "])),
    st.tuples(st.just("dedent"), st.floats(0, 1), st.none()),
    st.tuples(st.just("bytes"), st.floats(0, 1), st.binary(min_size=1, max_size=4)),
)


def corrupt(text: str, edits: list[tuple[str, float, Any]]) -> bytes:
    data = text.encode()
    for op, where, arg in edits:
        pos = int(where * len(data))
        if op == "delete":
            data = data[:pos] + data[pos + arg :]
        elif op == "insert":
            data = data[:pos] + arg.encode("utf-8", "surrogatepass") + data[pos:]
        elif op == "bytes":
            data = data[:pos] + arg + data[pos:]
        else:
            lines = data.split(b"\n")
            i = min(int(where * len(lines)), len(lines) - 1)
            if op == "dup-line":
                lines.insert(i, lines[i])
            elif op == "indent":
                lines[i] = arg.encode() + lines[i]
            else:
                lines[i] = lines[i].lstrip()
            data = b"\n".join(lines)
    return data


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    example=st.sampled_from(EXAMPLES),
    edits=st.lists(EDIT, min_size=1, max_size=4),
)
def test_generated_text_corruption(
    example: Path, edits: list[tuple[str, float, Any]], tmp_path: Path, figures: Figures
) -> None:
    with figures.case(GENERATED, "text corruption") as record:
        data = corrupt(example.read_text(encoding="utf-8"), edits)
        path = tmp_path / "package.yaml"
        path.write_bytes(data)
        try:
            config = load_config(path)
            _exercise(config)
        except ConfigError as err:
            check_error(err, path, data.count(b"\n") + 1)
            record.outcome = "text corruption: ConfigError with file and line"
        else:
            record.outcome = "text corruption: still a valid config, fully usable"


# --------------------------------------------------------------------------- generated: types

BASE: dict[str, Any] = {
    "package_name": "foo",
    "github_repo": "owner/foo",
    "description": "Does foo\nAt length, over two lines of\nextended description.\n",
    "maintainer": "Jane Doe <jane@example.org>",
    "homepage": "https://example.org/foo",
    "section": "utils",
    "priority": "optional",
    "license": "MIT",
    "architectures": {
        "amd64": {"asset": "foo-{version}-x86_64.tar.gz", "binary_path": "foo"},
        "arm64": {"release_pattern": "foo-.*-aarch64\\.tar\\.gz", "binary_path": ["foo", "bar"]},
    },
    "depends": ["libc6 (>= 2.31)"],
    "debian_distributions": ["bookworm", "trixie"],
}
# Field -> the JSON types the schema allows there (what a wrong value must avoid).
FIELDS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("package_name",): ("string",),
    ("github_repo",): ("string",),
    ("description",): ("string",),
    ("maintainer",): ("string",),
    ("homepage",): ("string",),
    ("section",): ("string",),
    ("priority",): ("string",),
    ("license",): ("string",),
    ("epoch",): ("integer",),
    ("depends",): ("string", "array"),
    ("recommends",): ("string", "array"),
    ("bundle",): ("boolean",),
    ("prefer_musl",): ("boolean",),
    ("debian_distributions",): ("array",),
    ("ignore_assets",): ("array",),
    ("checksums",): ("object",),
    ("compression",): ("string",),
    ("binary_path",): ("string", "array"),
    ("architectures",): ("object", "array"),
    ("architectures", "amd64", "asset"): ("string",),
    ("architectures", "amd64", "binary_path"): ("string", "array"),
    ("architectures", "arm64", "release_pattern"): ("string",),
    ("architectures", "arm64", "bundle"): ("boolean",),
    ("architectures", "arm64", "install"): ("object",),
}
VALUES: dict[str, st.SearchStrategy[Any]] = {
    "string": st.text(string.ascii_letters, min_size=1, max_size=8).map(lambda s: "x" + s),
    "integer": st.integers(-5, 10**9),
    "number": st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    "boolean": st.booleans(),
    "null": st.none(),
    "array": st.lists(st.integers(0, 9), min_size=1, max_size=3),
    "object": st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 9), min_size=1, max_size=2),
}


@st.composite
def wrong_typed(draw: st.DrawFn) -> tuple[tuple[str, ...], str, Any]:
    field = draw(st.sampled_from(sorted(FIELDS)))
    allowed = FIELDS[field]
    # A YAML integer also satisfies "number"; booleans are never integers in JSON Schema.
    wrong = [t for t in VALUES if t not in allowed and not (t == "number" and "integer" in allowed)]
    kind = draw(st.sampled_from(wrong))
    return field, kind, draw(VALUES[kind])


def dump(doc: dict[str, Any]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def key_line(text: str, field: tuple[str, ...]) -> int:
    """The 1-based line where the last key of ``field`` sits in a block-style dump."""
    depth = 0
    start = 0
    lines = text.split("\n")
    for key in field:
        for i in range(start, len(lines)):
            if lines[i].startswith("  " * depth + key + ":"):
                start, depth = i + 1, depth + 1
                break
        else:
            raise AssertionError(f"{key} not found")
    return start


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=wrong_typed())
def test_generated_wrong_types(
    mutation: tuple[tuple[str, ...], str, Any], tmp_path: Path, figures: Figures
) -> None:
    field, kind, value = mutation
    with figures.case(GENERATED, "wrong type") as record:
        doc: dict[str, Any] = {k: v for k, v in BASE.items()}
        doc["architectures"] = {a: dict(s) for a, s in BASE["architectures"].items()}
        node: dict[str, Any] = doc
        for key in field[:-1]:
            node = node[key]
        node[field[-1]] = value
        text = dump(doc)
        path = tmp_path / "package.yaml"
        path.write_text(text, encoding="utf-8")
        err = load_expecting_error(path, text.count("\n") + 1)
        dotted = ".".join(field)
        assert (err.field is not None and (err.field == dotted or err.field.startswith(dotted + "."))) or (
            err.field is not None and err.field.startswith(dotted + "[")
        ), f"{dotted} set to {kind} {value!r}: error names field {err.field!r}: {err}"
        assert err.line == key_line(text, field) or (
            err.line is not None and err.line > key_line(text, field)
        ), f"{dotted}: error at line {err.line}, the key is on line {key_line(text, field)}: {err}"
        record.outcome = "wrong type: ConfigError naming file, line and field"


# --------------------------------------------------------------------------- hand-picked


@dataclass(frozen=True)
class Hand:
    content: bytes | Callable[[Path], Path]  # bytes, or a function making the config file
    field: str | None = None  # the field the error must name (None: no field expected)
    line: int | None = None  # the line it must name (None: only "some line in the file")
    detail: str = ""  # a fragment the message must contain


GOOD = (
    "package_name: foo\n"
    "github_repo: owner/foo\n"
    "description: |\n  Does foo\n  At length.\n"
    "maintainer: Jane Doe <jane@example.org>\n"
    "binary_path: foo\n"
)


def _with(extra: str) -> bytes:
    return (GOOD + extra).encode()


def _fifty_megabytes(folder: Path) -> Path:
    path = folder / "package.yaml"
    line = b"# " + b"x" * 1021 + b"\n"
    with path.open("wb") as out:
        out.write(GOOD.encode())
        for _ in range(50 * 1024):
            out.write(line)
    assert path.stat().st_size >= 50 * 1024 * 1024
    return path


def _dev_zero(folder: Path) -> Path:
    path = folder / "package.yaml"
    path.symlink_to("/dev/zero")
    return path


def _directory(folder: Path) -> Path:
    path = folder / "package.yaml"
    path.mkdir()
    return path


def _missing(folder: Path) -> Path:
    return folder / "package.yaml"


def _billion_laughs() -> bytes:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    return _with("\n".join(lines) + "\n")


PWNED = Path("/tmp/reliability-config-pwned")

HAND_CASES: dict[str, Hand] = {
    "package_name is a number": Hand(
        _with("epoch: 1\n").replace(b"package_name: foo", b"package_name: 42"), "package_name", 1
    ),
    "unknown key with a typo": Hand(_with("homepge: https://x.org\n"), "homepge", 8, "homepage"),
    "unknown nested key": Hand(
        _with("architectures:\n  amd64:\n    binary_pth: foo\n"), "architectures.amd64.binary_pth", 10
    ),
    "bad arch name in a list": Hand(_with("architectures: [amd64, amd46]\n"), "architectures[1]", 8),
    "upstream token as arch key": Hand(
        _with("architectures:\n  x86_64:\n    asset: foo.tgz\n"), "architectures.x86_64", 9
    ),
    "package name with capitals": Hand(
        GOOD.replace("package_name: foo", "package_name: Foo_Bar").encode(), "package_name", 1
    ),
    "package name of one char": Hand(
        GOOD.replace("package_name: foo", "package_name: f").encode(), "package_name", 1
    ),
    "package name starting with -": Hand(
        GOOD.replace("package_name: foo", "package_name: -foo").encode(), "package_name", 1
    ),
    "bad version in a relation": Hand(_with("depends: ['libc6 (>= 2..3!)']\n"), "depends[0]", 8),
    "negative epoch": Hand(_with("epoch: -1\n"), "epoch", 8),
    "epoch as text": Hand(_with("epoch: one\n"), "epoch", 8),
    "bundle as a string": Hand(_with("bundle: 'yes please'\n"), "bundle", 8),
    "unknown suite": Hand(_with("debian_distributions: [bookworm, bookwrm]\n"), "debian_distributions[1]", 8),
    "unknown placeholder": Hand(_with("release_pattern: 'foo-{verison}.tar.gz'\n"), "release_pattern", 8),
    "missing package_name": Hand(GOOD.replace("package_name: foo\n", "").encode(), "package_name"),
    "alias bomb (billion laughs)": Hand(_billion_laughs(), None, None, "alias"),
    "self-referencing alias": Hand(_with("depends: &d [*d]\n"), None, 8),
    "custom tag that would run code": Hand(
        _with(f"x: !!python/object/apply:os.system ['touch {PWNED}']\n"), None, 8, "tag"
    ),
    "second YAML document": Hand(_with("---\npackage_name: bar\n"), None, 8),
    "duplicate key": Hand(_with("package_name: bar\n"), "package_name", 8),
    "tab indentation": Hand(_with("architectures:\n\tamd64: {}\n"), None, 9),
    "NUL byte": Hand(_with("homepage: https://exa\x00mple.org\n"), None, 8),
    "latin-1 (non-UTF-8) bytes": Hand(_with("x: ") + "Café\n".encode("latin-1"), None, 8, "UTF-8"),
    "UTF-16 file": Hand(GOOD.encode("utf-16"), None, 1),
    "an ELF binary as config": Hand(b"\x7fELF\x02\x01\x01" + bytes(120), None, 1),
    "deep nesting": Hand(_with("x: " + "[" * 5000 + "]" * 5000 + "\n"), None, 8, "nest"),
    "top level is a list": Hand(b"- package_name: foo\n", None, 1),
    "empty file": Hand(b"", None, None, "empty"),
    "only comments": Hand(b"# nothing here\n# at all\n", None, 1),
    "50 MB file": Hand(_fifty_megabytes, None, None, "larger than"),
    "config is /dev/zero": Hand(_dev_zero, None, None, "larger than"),
    "config is a directory": Hand(_directory, None, None, "directory"),
    "config is missing": Hand(_missing, None, None, "not found"),
}


@pytest.mark.parametrize("name", list(HAND_CASES))
def test_hand_picked_config(name: str, tmp_path: Path, figures: Figures) -> None:
    case = HAND_CASES[name]
    with figures.case(HAND, name) as record:
        if isinstance(case.content, bytes):
            path = tmp_path / "package.yaml"
            path.write_bytes(case.content)
            lines: int | None = case.content.count(b"\n") + 1
        else:
            path = case.content(tmp_path)
            lines = None
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        err = load_expecting_error(path, lines)
        elapsed = time.monotonic() - started
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        # A hostile file must be refused cheaply: no reading 50 MB, no expanding a bomb.
        assert elapsed < 5, f"took {elapsed:.1f}s"
        assert grown_mb < 100, f"peak memory grew by {grown_mb:.0f} MB"
        if case.field is not None:
            assert err.field == case.field, f"field {err.field!r}, expected {case.field!r}: {err}"
        if case.line is not None:
            assert err.line == case.line, f"line {err.line}, expected {case.line}: {err}"
        if case.detail:
            assert case.detail.lower() in str(err).lower(), str(err)
        assert not PWNED.exists(), "a YAML tag ran code"
        record.outcome = "ConfigError naming " + ", ".join(
            part
            for part, present in (("file", True), ("line", err.line is not None), ("field", bool(err.field)))
            if present
        )


def test_pwned_marker_is_not_left_behind() -> None:
    # Guard for the custom-tag case above: it would only prove something if the file was absent.
    assert not PWNED.exists()
    assert not os.path.lexists(PWNED)


# --------------------------------------------------------------------------- pinned metadata

PIN_CASES: dict[str, bytes | None] = {
    "pin: invalid JSON": b"{not json",
    "pin: a list": b"[]",
    "pin: sha256 not hex": b'{"version": "v1", "assets": {"a.tar.gz": {"sha256": "zz"}}}',
    "pin: assets a list": b'{"version": "v1", "assets": [1, 2]}',
    "pin: asset null": b'{"version": "v1", "assets": {"a.tar.gz": null}}',
    "pin: version null": b'{"version": null, "assets": {}}',
    "pin: non-UTF-8": b'\xff\xfe{"version": "v1"}',
    "pin: 2 MB file": b'{"pad": "' + b"x" * (2 << 20) + b'"}',
    "pin: missing file": None,
}


@pytest.mark.parametrize("name", list(PIN_CASES))
def test_hostile_pin_file(name: str, tmp_path: Path, figures: Figures) -> None:
    from multiarch.checksums import PinnedMetadata

    with figures.case(HAND, name) as record:
        path = tmp_path / "pins.json"
        content = PIN_CASES[name]
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ConfigError) as caught:
            PinnedMetadata.load(path).check_version("v1")
        err = caught.value
        assert err.category == "configuration"
        assert str(path) in str(err), str(err)
        record.outcome = "pin file: ConfigError naming the file"
