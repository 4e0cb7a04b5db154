"""Read and validate the action's inputs.

The runner passes each input as ``INPUT_<NAME>`` with the name upper-cased and
hyphens kept (``INPUT_CONFIG-FILE``); actions-toolkit's ``core.get_input``
reads exactly that. The runner always sets every input (with action.yml's
default when the workflow gives none), so an empty value means "default" here,
and ``python entrypoint.py`` run by hand with only a few variables set behaves
the same as the action.

Validation collects every problem before failing, so one run shows them all.
Nothing here goes through a shell: ``version`` may contain ``$(…)`` or ``;``
and stays plain data in an argv element. Paths must stay inside the workspace
(after resolving symlinks), because only the workspace is shared with the
steps that follow and with the container's host.
"""

from __future__ import annotations

import difflib
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final, TypedDict, TypeVar

from actions_toolkit import core

from contracts.vocabulary import (
    DEFAULT_HISTORY_SIZE,
    DEFAULT_REGRESSION_THRESHOLD_PERCENT,
    DEFAULT_TELEMETRY_DIR,
    ENV_SAVE_BASELINE,
    ENV_TELEMETRY_DIR,
    ENV_TELEMETRY_ENABLED,
    ActionMode,
    FailureCategory,
    parse_bool,
)

# The one non-boolean value of lintian-check: fail a package that lintian finds errors in.
LINTIAN_STRICT: Final = "strict"

# Every input of action.yml and the default the entrypoint applies when the value is
# empty. action.yml declares the same defaults (a test checks they agree);
# ``github-token`` is the exception: the runner fills in ``${{ github.token }}``,
# and by hand the ``GITHUB_TOKEN`` variable is used.
INPUT_DEFAULTS: Final[Mapping[str, str]] = {
    "config-file": "package.yaml",
    "version": "",
    "build-version": "1",
    "architecture": "all",
    "distributions": "",
    "max-parallel": "auto",
    "lintian-check": "false",
    "output-dir": ".",
    "assets-dir": "",
    "pinned-metadata": "",
    "github-token": "",
    "telemetry-enabled": "true",
    "telemetry-dir": DEFAULT_TELEMETRY_DIR,
    "sample-interval": "1",
    "save-baseline": "false",
    "regression-threshold": f"{DEFAULT_REGRESSION_THRESHOLD_PERCENT:g}",
    "fail-on-regression": "false",
    "command": "",
    "job-summary": "true",
    "baseline-source": "auto",
    "history-artifact": "",
    "history-size": str(DEFAULT_HISTORY_SIZE),
    "pr-comment": "off",
    "mode": "build",
    "aggregate-dir": "",
    "expected-legs": "",
}

# The guide's environment variables, for local and CLI use. An explicitly given
# input wins (inside a workflow the runner always gives one, so there the input rules).
ENV_FALLBACKS: Final[Mapping[str, str]] = {
    "telemetry-enabled": ENV_TELEMETRY_ENABLED,
    "save-baseline": ENV_SAVE_BASELINE,
    "telemetry-dir": ENV_TELEMETRY_DIR,
}

TOKEN_INPUT: Final = "github-token"
# Debian revision characters (Debian Policy 5.6.12); the builder re-checks the whole version.
_REVISION_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+~]*$")
_MAX_PARALLEL_LIMIT: Final = 1024

_SUITES_DATA: Final = Path(__file__).resolve().parent.parent / "multiarch" / "data" / "suites.json"


class BaselineSource(StrEnum):
    """Where the comparison comes from (the ``baseline-source`` input)."""

    AUTO = "auto"  # artifacts when on GitHub with a token, else the workspace file
    ARTIFACTS = "artifacts"
    WORKSPACE = "workspace"
    NONE = "none"


class CommentMode(StrEnum):
    """When to comment the comparison on a pull request (the ``pr-comment`` input)."""

    OFF = "off"
    REGRESSION = "regression"
    ALWAYS = "always"


# Artifact names may not contain these (upload-artifact refuses them).
_ARTIFACT_NAME_FORBIDDEN: Final = frozenset('"\\:<>|*?/\r\n')
_MAX_HISTORY_SIZE: Final = 1000


_Choice = TypeVar("_Choice", bound=StrEnum)


@dataclass(frozen=True)
class InputProblem:
    """One invalid input: which one and why, in words a workflow author can act on."""

    name: str
    message: str


class InputError(Exception):
    """Every problem found in the inputs (category ``configuration``)."""

    category: Final = FailureCategory.CONFIGURATION

    def __init__(self, problems: tuple[InputProblem, ...]) -> None:
        super().__init__("; ".join(f"{p.name}: {p.message}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class WorkspacePath:
    """A path inside the workspace: ``relative`` for people and the builder, ``absolute`` for I/O."""

    relative: str
    absolute: Path


@dataclass(frozen=True)
class ActionInputs:
    workspace: Path
    config_file: WorkspacePath
    version: str
    build_version: str
    architectures: tuple[str, ...]  # empty = all the config (or the table) allows
    distributions: tuple[str, ...]  # empty = the config's suites
    max_parallel: int | None  # None = auto (usable cores)
    lintian_check: bool
    output_dir: WorkspacePath
    assets_dir: WorkspacePath | None
    pinned_metadata: WorkspacePath | None
    telemetry_enabled: bool
    telemetry_dir: WorkspacePath
    sample_interval: float
    save_baseline: bool
    regression_threshold: float
    fail_on_regression: bool
    command: str
    job_summary: bool
    baseline_source: BaselineSource = BaselineSource.AUTO
    history_artifact: str = ""  # empty: derived from the package and the selection
    history_size: int = DEFAULT_HISTORY_SIZE
    pr_comment: CommentMode = CommentMode.OFF
    # Kept out of repr so that no log line or traceback can print it.
    github_token: str = field(default="", repr=False)
    # lintian-check: strict — lintian_check is then True as well, and lintian errors fail the job.
    lintian_strict: bool = False
    # mode: aggregate joins the legs of a matrix found under aggregate_dir instead of building.
    mode: ActionMode = ActionMode.BUILD
    aggregate_dir: WorkspacePath | None = None
    expected_legs: tuple[str, ...] = ()  # leg (artifact folder) names that must be there


@dataclass(frozen=True)
class KnownNames:
    """Architectures and suites the builder supports, from its authoritative table."""

    architectures: tuple[str, ...]
    suites: tuple[str, ...]


def load_known_names(path: Path = _SUITES_DATA) -> KnownNames:
    """Names from the builder's suite table.

    Read as plain JSON rather than through ``multiarch.suites``: that module
    validates the table with jsonschema (about 0.2 s of imports), which would
    delay the build's start; the builder validates the table itself anyway.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        arches = tuple(str(a["name"]) for a in document["architectures"])
        suites = tuple(str(s["name"]) for s in document["suites"])
    except (OSError, ValueError, KeyError, TypeError):
        # Without the table the builder is the one to judge the names.
        return KnownNames(architectures=(), suites=())
    return KnownNames(architectures=arches, suites=suites)


def _get_input(name: str) -> str:
    # actions-toolkit is untyped; this is the one typed doorway to it.
    return str(core.get_input(name))


def mask_token() -> str:
    """Read the token and register it as a secret before anything else is printed.

    Each line is masked on its own because the runner masks line by line.
    The input variable is then removed from this process's environment so that
    no child (the builder or the user's command) inherits it under that name.
    """
    token = _get_input(TOKEN_INPUT) or os.environ.get("GITHUB_TOKEN", "").strip()
    for line in token.splitlines():
        if line.strip():
            core.set_secret(line.strip())
    os.environ.pop(f"INPUT_{TOKEN_INPUT.upper()}", None)
    return token


def workspace_root(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(os.path.realpath(env.get("GITHUB_WORKSPACE") or os.getcwd()))


def _raw(name: str) -> str:
    value = _get_input(name)
    if value:
        return value
    env_name = ENV_FALLBACKS.get(name)
    if env_name is not None:
        from_env = os.environ.get(env_name, "").strip()
        if from_env:
            return from_env
    return INPUT_DEFAULTS[name]


def _hint(value: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"{hint} (known: {', '.join(known)})" if known else hint


class _Collector:
    """Accumulates problems so that one run reports every invalid input."""

    def __init__(self, workspace: Path) -> None:
        self.workspace = workspace
        self.problems: list[InputProblem] = []

    def add(self, name: str, message: str) -> None:
        self.problems.append(InputProblem(name, message))

    def boolean(self, name: str) -> bool:
        value = _raw(name)
        parsed = parse_bool(value)
        if parsed is None:
            self.add(name, f"{value!r} is not a boolean; use true or false")
            return parse_bool(INPUT_DEFAULTS[name]) is True
        return parsed

    def number(self, name: str, *, minimum: float, maximum: float, unit: str = "") -> float:
        value = _raw(name)
        text = value.removesuffix("%").strip() if name == "regression-threshold" else value
        try:
            number = float(text)
        except ValueError:
            self.add(name, f"{value!r} is not a number")
            return float(INPUT_DEFAULTS[name])
        if not math.isfinite(number) or not minimum <= number <= maximum:
            self.add(name, f"{value!r} must be between {minimum:g} and {maximum:g}{unit}")
            return float(INPUT_DEFAULTS[name])
        return number

    def choice(self, name: str, choices: type[_Choice]) -> _Choice:
        value = _raw(name).strip().lower()
        try:
            return choices(value)
        except ValueError:
            self.add(name, f"{value!r} is not one of {', '.join(c.value for c in choices)}")
            return choices(INPUT_DEFAULTS[name])

    def artifact_name(self, name: str) -> str:
        value = _raw(name).strip()
        bad = sorted({c for c in value if c in _ARTIFACT_NAME_FORBIDDEN})
        if bad:
            self.add(
                name, f"{value!r} contains {' '.join(repr(c) for c in bad)}, which artifact names may not"
            )
            return ""
        return value

    def whole(self, name: str, *, minimum: int, maximum: int) -> int:
        value = _raw(name).strip()
        if value.isdigit() and minimum <= int(value) <= maximum:
            return int(value)
        self.add(name, f"{value!r} is not a whole number from {minimum} to {maximum}")
        return int(INPUT_DEFAULTS[name])

    def path(self, name: str, *, must_be_dir: bool = False) -> WorkspacePath | None:
        value = _raw(name)
        if not value:
            return None
        if "\x00" in value:
            self.add(name, "contains a NUL character")
            return None
        candidate = Path(value)
        joined = candidate if candidate.is_absolute() else self.workspace / candidate
        # realpath resolves symlinks too: a link inside the workspace that points
        # outside it is as much an escape as "../".
        resolved = Path(os.path.realpath(joined))
        if resolved != self.workspace and self.workspace not in resolved.parents:
            self.add(name, f"{value!r} resolves to {resolved}, outside the workspace {self.workspace}")
            return None
        if must_be_dir and not resolved.is_dir():
            self.add(name, f"{value!r} is not a folder in the workspace")
            return None
        relative = resolved.relative_to(self.workspace).as_posix()
        return WorkspacePath(relative=relative or ".", absolute=resolved)

    def names(self, name: str, known: tuple[str, ...], kind: str) -> tuple[str, ...]:
        value = _raw(name)
        items: list[str] = []
        # Commas as documented; spaces and newlines too, since YAML block scalars invite them.
        for raw_item in re.split(r"[,\s]+", value):
            item = raw_item.strip()
            if not item or item in items:
                continue
            if known and item not in known:
                self.add(name, f"unknown {kind} {item!r}{_hint(item, known)}")
                continue
            items.append(item)
        return tuple(items)


def read_inputs(token: str, known: KnownNames | None = None) -> ActionInputs:
    """Validate every input; raises ``InputError`` listing all problems.

    ``token`` comes from ``mask_token`` (called first, so the secret is masked
    before any other output).
    """
    known = known if known is not None else load_known_names()
    workspace = workspace_root()
    check = _Collector(workspace)

    command = _raw("command")
    version = _raw("version")
    aggregate = _aggregate_inputs(check, command)
    if not version and not command and aggregate["mode"] == ActionMode.BUILD:
        check.add("version", "required (the upstream release tag, e.g. v1.2.3) unless `command` is set")
    elif any(ord(c) < 0x20 or ord(c) == 0x7F for c in version):
        check.add("version", "contains control characters (a release tag is one line of text)")

    build_version = _raw("build-version")
    if not _REVISION_RE.match(build_version):
        check.add(
            "build-version",
            f"{build_version!r} is not a Debian revision (letters, digits and . + ~, e.g. 1 or 2~bpo1)",
        )

    architecture = _raw("architecture")
    architectures: tuple[str, ...] = ()
    if architecture.strip().lower() != "all":
        architectures = check.names("architecture", known.architectures, "architecture")
        if not architectures and not any(p.name == "architecture" for p in check.problems):
            check.add("architecture", "empty list; use `all` or Debian names like amd64,arm64")

    distributions = check.names("distributions", known.suites, "Debian suite")

    config_file = check.path("config-file")
    output_dir = check.path("output-dir")
    telemetry_dir = check.path("telemetry-dir")
    assets_dir = check.path("assets-dir", must_be_dir=True)
    pinned_metadata = check.path("pinned-metadata")

    result = ActionInputs(
        workspace=workspace,
        config_file=config_file or WorkspacePath(INPUT_DEFAULTS["config-file"], workspace / "package.yaml"),
        version=version,
        build_version=build_version,
        architectures=architectures,
        distributions=distributions,
        max_parallel=_max_parallel(check),
        **_lintian_inputs(check),
        output_dir=output_dir or WorkspacePath(".", workspace),
        assets_dir=assets_dir,
        pinned_metadata=pinned_metadata,
        telemetry_enabled=check.boolean("telemetry-enabled"),
        telemetry_dir=telemetry_dir
        or WorkspacePath(DEFAULT_TELEMETRY_DIR, workspace / DEFAULT_TELEMETRY_DIR),
        sample_interval=check.number("sample-interval", minimum=0.05, maximum=3600, unit=" seconds"),
        save_baseline=check.boolean("save-baseline"),
        regression_threshold=check.number("regression-threshold", minimum=0, maximum=10000, unit=" percent"),
        fail_on_regression=check.boolean("fail-on-regression"),
        command=command,
        job_summary=check.boolean("job-summary"),
        baseline_source=check.choice("baseline-source", BaselineSource),
        history_artifact=check.artifact_name("history-artifact"),
        history_size=check.whole("history-size", minimum=1, maximum=_MAX_HISTORY_SIZE),
        pr_comment=check.choice("pr-comment", CommentMode),
        github_token=token,
        **aggregate,
    )
    _outside_the_legs(check, result)
    if check.problems:
        raise InputError(tuple(check.problems))
    return result


def _max_parallel(check: _Collector) -> int | None:
    """max-parallel: None for auto (usable cores), else a whole number."""
    raw = _raw("max-parallel")
    if raw.lower() == "auto":
        return None
    if raw.isdigit() and 1 <= int(raw) <= _MAX_PARALLEL_LIMIT:
        return int(raw)
    check.add("max-parallel", f"{raw!r} is not `auto` or a whole number from 1 to {_MAX_PARALLEL_LIMIT}")
    return None


class _LintianInputs(TypedDict):
    lintian_check: bool
    lintian_strict: bool


def _lintian_inputs(check: _Collector) -> _LintianInputs:
    """lintian-check: true/false, or "strict" (which implies true; lintian errors fail the job)."""
    strict = _raw("lintian-check").strip().lower() == LINTIAN_STRICT
    # `or`: "strict" is not a boolean spelling, and must not be reported as a bad one.
    return {"lintian_check": strict or check.boolean("lintian-check"), "lintian_strict": strict}


class _AggregateInputs(TypedDict):
    mode: ActionMode
    aggregate_dir: WorkspacePath | None
    expected_legs: tuple[str, ...]


def _aggregate_inputs(check: _Collector, command: str) -> _AggregateInputs:
    """mode, aggregate-dir and expected-legs: the join of a matrix's legs needs a folder, no build."""
    mode = check.choice("mode", ActionMode)
    folder = check.path("aggregate-dir")
    legs = tuple(dict.fromkeys(n.strip() for n in re.split(r"[,\n]+", _raw("expected-legs")) if n.strip()))
    if mode == ActionMode.AGGREGATE:
        if folder is None and not any(p.name == "aggregate-dir" for p in check.problems):
            check.add("aggregate-dir", "required with `mode: aggregate` (the folder download-artifact wrote)")
        if command:
            check.add("command", "`mode: aggregate` joins the legs' results and runs no command")
    return {"mode": mode, "aggregate_dir": folder, "expected_legs": legs}


def _within(folder: WorkspacePath | None, legs: WorkspacePath | None) -> bool:
    """Whether ``folder`` is the legs' folder or inside it."""
    if folder is None or legs is None:
        return False
    return folder.absolute == legs.absolute or legs.absolute in folder.absolute.parents


def _outside_the_legs(check: _Collector, inputs: ActionInputs) -> None:
    """The join writes build-summary.json and metrics.json: never where a leg's own files are."""
    legs = inputs.aggregate_dir
    if inputs.mode != ActionMode.AGGREGATE or legs is None:
        return
    for name, folder in (("output-dir", inputs.output_dir), ("telemetry-dir", inputs.telemetry_dir)):
        if _within(folder, legs):
            check.add(
                name,
                f"{folder.relative!r} is inside aggregate-dir {legs.relative!r}: the joined files would"
                " overwrite the legs' own; download the artifacts into a folder of their own",
            )


def safe_defaults(token: str = "") -> ActionInputs:
    """Inputs to report with when the real ones are invalid.

    Output and telemetry locations fall back to their defaults only if the given
    ones were invalid, so a bad ``version`` still reports where the user asked.
    """
    workspace = workspace_root()
    check = _Collector(workspace)
    # Reporting must not overwrite a leg's files either: a folder inside aggregate-dir falls back.
    legs = check.path("aggregate-dir") if _raw("mode").strip().lower() == ActionMode.AGGREGATE else None
    output, telemetry = (
        None if _within(folder, legs) else folder
        for folder in (check.path("output-dir"), check.path("telemetry-dir"))
    )
    return ActionInputs(
        workspace=workspace,
        config_file=check.path("config-file") or WorkspacePath("package.yaml", workspace / "package.yaml"),
        version=_raw("version"),
        build_version=INPUT_DEFAULTS["build-version"],
        architectures=(),
        distributions=(),
        max_parallel=None,
        lintian_check=False,
        output_dir=output or WorkspacePath(".", workspace),
        assets_dir=None,
        pinned_metadata=None,
        telemetry_enabled=False,
        telemetry_dir=telemetry or WorkspacePath(DEFAULT_TELEMETRY_DIR, workspace / DEFAULT_TELEMETRY_DIR),
        sample_interval=1.0,
        save_baseline=False,
        regression_threshold=DEFAULT_REGRESSION_THRESHOLD_PERCENT,
        fail_on_regression=False,
        command=_raw("command"),
        job_summary=parse_bool(_raw("job-summary")) is not False,
        github_token=token,
    )
