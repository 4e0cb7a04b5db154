"""Bad action inputs and bad configs, through ``python entrypoint.py`` with ``INPUT_*`` set.

Each run must end with a clear error that names the input (or the config's file/line/field),
exit non-zero, category ``configuration``, a schema-valid ``build-summary.json`` and outputs,
no traceback anywhere, and no command injection: shell metacharacters in any input are data.
Each injection attempt tries to create a marker file; the test asserts it never appears. Paths
that leave the workspace must be refused before anything is written there.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reliability.action_run import ActionRun, Workspace
from tests.reliability.conftest import Figures

ROW = "Bad action inputs"
CONFIG_ROW = "Bad configuration (hand-picked)"


@pytest.fixture
def marker() -> Iterator[Path]:
    """A path an injected command would create; unique per test so parallel runs can't collide."""
    path = new_marker()
    yield path
    path.unlink(missing_ok=True)


def new_marker() -> Path:
    return Path(f"/tmp/reliability-pwned-{uuid.uuid4().hex[:12]}")


@dataclass(frozen=True)
class BadInput:
    inputs: dict[str, str]
    names: tuple[str, ...]  # the inputs the error must name
    needs_builder: bool = False  # valid as an input; only the builder can judge it


# ``{m}`` is replaced by the marker path.
CASES: dict[str, BadInput] = {
    "max-parallel not a number": BadInput({"max-parallel": "four"}, ("max-parallel",)),
    "max-parallel zero": BadInput({"max-parallel": "0"}, ("max-parallel",)),
    "max-parallel negative": BadInput({"max-parallel": "-2"}, ("max-parallel",)),
    "max-parallel float": BadInput({"max-parallel": "1.5"}, ("max-parallel",)),
    "max-parallel huge": BadInput({"max-parallel": "99999999999999999999"}, ("max-parallel",)),
    "max-parallel with injection": BadInput({"max-parallel": "2; touch {m}"}, ("max-parallel",)),
    "unknown architecture": BadInput({"architecture": "amd46"}, ("architecture",)),
    "architecture with injection": BadInput({"architecture": "amd64,$(touch {m})"}, ("architecture",)),
    "distribution with injection": BadInput({"distributions": "bookworm`touch {m}`"}, ("distributions",)),
    "build-version with injection": BadInput({"build-version": "1;touch {m}"}, ("build-version",)),
    "version with a newline": BadInput({"version": "v1.0.0\ntouch {m}"}, ("version",)),
    "sample-interval nan": BadInput({"sample-interval": "nan"}, ("sample-interval",)),
    "regression-threshold text": BadInput({"regression-threshold": "lots"}, ("regression-threshold",)),
    "boolean that is not": BadInput({"lintian-check": "maybe"}, ("lintian-check",)),
    "config-file outside (..)": BadInput({"config-file": "../outside/package.yaml"}, ("config-file",)),
    "config-file absolute": BadInput({"config-file": "/etc/passwd"}, ("config-file",)),
    "config-file via symlink": BadInput({"config-file": "escape/package.yaml"}, ("config-file",)),
    "output-dir outside": BadInput({"output-dir": "../outside"}, ("output-dir",)),
    "output-dir via symlink": BadInput({"output-dir": "escape"}, ("output-dir",)),
    "telemetry-dir absolute": BadInput({"telemetry-dir": "{outside}"}, ("telemetry-dir",)),
    "assets-dir outside": BadInput({"assets-dir": "../outside"}, ("assets-dir",)),
    "pinned-metadata outside": BadInput({"pinned-metadata": "/etc/shadow"}, ("pinned-metadata",)),
    "everything wrong at once": BadInput(
        {"max-parallel": "x", "architecture": "i386x", "output-dir": "/", "build-version": "-1"},
        ("max-parallel", "architecture", "output-dir", "build-version"),
    ),
    # Valid as inputs (a tag is free text); the builder must treat them as data and refuse them.
    "version with $(...)": BadInput({"version": "v1$(touch {m})"}, ("version",), needs_builder=True),
    "version with backticks": BadInput({"version": "v1`touch {m}`"}, ("version",), needs_builder=True),
    "version with ; and |": BadInput({"version": "v1;touch {m}|cat"}, ("version",), needs_builder=True),
    "version with path traversal": BadInput(
        {"version": "v1.0.0/../../../../outside/evil"}, ("version",), needs_builder=True
    ),
    "version starting with --": BadInput({"version": "--output-dir=/tmp"}, ("version",), needs_builder=True),
    # Inside the workspace, but a file: only creating the folder tells.
    "output-dir is a file": BadInput({"output-dir": "package.yaml"}, ("output-dir",), needs_builder=True),
}


def _workspace(tmp_path: Path) -> tuple[Workspace, Path]:
    ws = Workspace.create(tmp_path)
    ws.add_demo()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "package.yaml").write_text("package_name: outside\n")
    (ws.root / "escape").symlink_to(outside)
    return ws, outside


def check_failed_cleanly(run: ActionRun, outside: Path | None = None) -> dict[str, object]:
    """The common contract of a run refused for configuration reasons."""
    run.check_no_traceback()
    assert run.returncode != 0, run.log()
    summary = run.check_summary()
    assert summary["status"] == "failure", summary
    assert run.outputs.get("build-status") == "failure", run.outputs
    assert run.outputs.get("failure-category") == "configuration", run.log()
    error = summary["error"]
    assert isinstance(error, dict) and error["category"] == "configuration", summary
    assert run.annotations("error"), f"no ::error annotation\n{run.log()}"
    if outside is not None:
        leftovers = sorted(p.name for p in outside.iterdir())
        assert leftovers == ["package.yaml"], f"written outside the workspace: {leftovers}"
    return error


@dataclass
class Attempt:
    ws: Workspace
    outside: Path
    marker: Path
    run: ActionRun


@pytest.fixture(scope="module")
def attempts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Attempt]]:
    """Every case's entrypoint run, started side by side.

    Each run is a few Python start-ups and mostly waits (on the builder, the session's last
    tick), so running them concurrently keeps this module's wall time near one run's, not 30.
    """
    names = [*CASES, *(f"config:{n}" for n in CONFIG_CASES)]

    def attempt(name: str) -> Attempt:
        base = tmp_path_factory.mktemp("bad-input")
        ws, outside = _workspace(base)
        marker = new_marker()
        inputs = {"version": "v1.0.0", "assets-dir": "release", "output-dir": "out"}
        if name.startswith("config:"):
            (ws.root / "package.yaml").write_bytes(CONFIG_CASES[name.removeprefix("config:")][0])
        else:
            for key, value in CASES[name].inputs.items():
                inputs[key] = value.replace("{m}", str(marker)).replace("{outside}", str(outside))
        return Attempt(ws, outside, marker, ws.run(inputs))

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = dict(zip(names, pool.map(attempt, names), strict=True))
    yield done
    for item in done.values():
        item.marker.unlink(missing_ok=True)


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(name: str, attempts: dict[str, Attempt], figures: Figures) -> None:
    case = CASES[name]
    with figures.case(ROW, name) as record:
        item = attempts[name]
        run = item.run
        assert not item.marker.exists(), f"command injection: {item.marker} was created\n{run.log()}"
        error = check_failed_cleanly(run, item.outside)
        message = str(error.get("message", ""))
        text = message + run.stdout
        for input_name in case.names:
            assert input_name in text, f"error does not name {input_name!r}: {message}\n{run.log()}"
        assert not list(item.ws.root.rglob("*.deb")), "packages built despite invalid input"
        record.outcome = "refused: configuration, names the input, no injection"


def test_command_input_is_the_only_shell(tmp_path: Path, marker: Path, figures: Figures) -> None:
    """The user's own ``command`` does run through a shell (that is its job), and other inputs
    with metacharacters alongside it still stay data."""
    with figures.case(ROW, "command runs through the shell, version stays data") as record:
        ws = Workspace.create(tmp_path)
        other = Path(str(marker) + "-version")
        try:
            run = ws.run(
                {"command": f"touch {marker}", "version": f"v1$(touch {other})", "telemetry-enabled": "false"}
            )
            run.check_no_traceback()
            assert run.returncode == 0, run.log()
            assert marker.exists(), "the command input did not run"
            assert not other.exists(), "the version input was evaluated by a shell"
            run.check_summary()
        finally:
            other.unlink(missing_ok=True)
        record.outcome = "command ran; version not evaluated"


# --------------------------------------------------------------------------- bad configs


CONFIG_CASES: dict[str, tuple[bytes, str | None, int | None]] = {
    # name: (package.yaml bytes, field the error must name, line it must name)
    "entrypoint: unknown key": (
        (Path(__file__).resolve().parents[2] / "examples/demo/package.yaml")
        .read_bytes()
        .replace(b"section: utils", b"sektion: utils"),
        "sektion",
        None,
    ),
    "entrypoint: bad arch in list": (
        (Path(__file__).resolve().parents[2] / "examples/demo/package.yaml")
        .read_bytes()
        .replace(b"[amd64, arm64, armhf]", b"[amd64, arm46, armhf]"),
        "architectures[1]",
        None,
    ),
    "entrypoint: alias bomb": (
        b"package_name: x\na: &a [1,1,1,1,1,1,1,1,1,1]\n"
        + b"".join(
            f"b{i}: &b{i} [{', '.join(['*a' if i == 0 else f'*b{i - 1}'] * 10)}]\n".encode() for i in range(8)
        ),
        None,
        None,
    ),
    "entrypoint: non-UTF-8": (b"package_name: caf\xe9\n", None, 1),
}


@pytest.mark.parametrize("name", list(CONFIG_CASES))
def test_bad_config_through_the_entrypoint(name: str, attempts: dict[str, Attempt], figures: Figures) -> None:
    _, field, line = CONFIG_CASES[name]
    with figures.case(CONFIG_ROW, name) as record:
        run = attempts[f"config:{name}"].run
        error = check_failed_cleanly(run)
        assert error.get("file"), error
        assert str(error["file"]).endswith("package.yaml"), error
        assert error.get("line") is not None, error
        if field is not None:
            assert error.get("field") == field, error
        if line is not None:
            assert error.get("line") == line, error
        # The annotation points at the file and line, so GitHub shows it in the diff view.
        annotation = run.annotations("error")[0]
        assert annotation.properties.get("file", "").endswith("package.yaml"), annotation
        assert annotation.properties.get("line") == str(error["line"]), annotation
        record.outcome = "entrypoint: ConfigError with file/line, build-summary.json valid"


def test_no_marker_left_by_any_case() -> None:
    leftovers = [p for p in Path("/tmp").glob("reliability-pwned-*") if os.path.lexists(p)]
    assert leftovers == []


def test_asset_linked_from_outside_the_workspace(tmp_path: Path, figures: Figures) -> None:
    """``assets-dir`` is inside the workspace, but one of its files links out of it: the file
    it points to must not be read (it would be packaged, cached and quoted in logs)."""
    with figures.case(ROW, "assets-dir file linking outside the workspace") as record:
        ws, outside = _workspace(tmp_path)
        asset = "hello-demo-x86_64-unknown-linux-gnu.tar.gz"
        (ws.root / "release" / asset).rename(outside / asset)
        (ws.root / "release" / asset).symlink_to(outside / asset)
        run = ws.run({"version": "v1.0.0", "assets-dir": "release", "output-dir": "out"})
        run.check_no_traceback()
        assert run.returncode != 0, run.log()
        assert run.outputs.get("failure-category") == "security", run.log()
        summary = run.check_summary()
        assert asset in json.dumps(summary), summary
        assert not list(ws.root.rglob("*.deb")), "packages built from a file outside the workspace"
        record.outcome = "refused: security, names the asset"


def test_config_assets_dir_outside_the_workspace(tmp_path: Path, figures: Figures) -> None:
    """The same escape, written in package.yaml instead of an input."""
    with figures.case(ROW, "package.yaml source.assets_dir outside the workspace") as record:
        ws, outside = _workspace(tmp_path)
        (ws.root / "release").rename(outside / "release")
        config = (ws.root / "package.yaml").read_text() + "source:\n  assets_dir: ../outside/release\n"
        (ws.root / "package.yaml").write_text(config)
        run = ws.run({"version": "v1.0.0", "output-dir": "out"})
        error = check_failed_cleanly(run)
        assert error.get("field") == "source.assets_dir", error
        assert error.get("line") == config.count("\n"), error  # the last line
        assert not list(ws.root.rglob("*.deb")), "packages built from a folder outside the workspace"
        record.outcome = "refused: configuration, names file, line and field"


# --------------------------------------------------------------------------- generated

INPUT_NAMES = (
    "config-file", "version", "build-version", "architecture", "distributions", "max-parallel",
    "lintian-check", "output-dir", "assets-dir", "pinned-metadata", "telemetry-enabled",
    "telemetry-dir", "sample-interval", "save-baseline", "regression-threshold",
    "fail-on-regression", "job-summary",
)  # fmt: skip
PATH_INPUTS = ("config-file", "output-dir", "assets-dir", "pinned-metadata", "telemetry-dir")
# Pieces, not single characters: "..", "../" and "/etc" are what path escapes are made of.
HOSTILE_TEXT = st.lists(
    st.sampled_from([*"./-_~$`;|&<>()'\"\\*?[]{}!#% \t\n\r", "..", "../", "/etc", "\x00", "é", "amd64"])
    | st.characters(codec="utf-8", exclude_categories=["Cs"]),
    max_size=12,
).map("".join)


@contextlib.contextmanager
def _environment(values: dict[str, str], workspace: Path) -> Iterator[None]:
    saved = dict(os.environ)
    try:
        for key in list(os.environ):
            if key.startswith("INPUT_"):
                del os.environ[key]
        os.environ["GITHUB_WORKSPACE"] = str(workspace)
        for name, value in values.items():
            os.environ[f"INPUT_{name.upper()}"] = value
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(st.sampled_from(INPUT_NAMES), HOSTILE_TEXT, min_size=1, max_size=5))
def test_generated_inputs(values: dict[str, str], tmp_path: Path, figures: Figures) -> None:
    """Random hostile values for every input, in process: only ``InputError`` may come out,
    and whatever is accepted keeps every path inside the workspace."""
    from action.inputs import InputError, KnownNames, read_inputs

    known = KnownNames(architectures=("amd64", "arm64", "armhf"), suites=("bookworm", "trixie"))
    # Environment variables cannot hold NUL; the runner could not pass one either.
    values = {"version": "v1.0.0", **{k: v.replace("\x00", "") for k, v in values.items()}}
    workspace = tmp_path.resolve()
    with figures.case(ROW, "generated inputs") as record, _environment(values, workspace):
        try:
            inputs = read_inputs("", known)
        except InputError as exc:
            assert exc.problems and all(p.name in INPUT_NAMES for p in exc.problems), exc
            record.outcome = "generated: refused with InputError naming the inputs"
            return
        for name in PATH_INPUTS:
            path = getattr(inputs, name.replace("-", "_"))
            if path is None:
                continue
            real = Path(os.path.realpath(path.absolute))
            assert real == workspace or workspace in real.parents, f"{name}={values.get(name)!r} -> {real}"
        record.outcome = "generated: accepted, every path inside the workspace"
