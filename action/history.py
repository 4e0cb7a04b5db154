"""The run's place in its history: what it is compared with, and the history.json it leaves.

Before the report (``plan_history``): name the history (``history-artifact``, or derived from the
package and the selection so that matrix legs never share one), pick the comparison branch (a
pull request's base branch, else the current one), read the previous history from the source
``baseline-source`` selects, and take its reference runs. After the outcome is known
(``record_history``): add this run and write ``history.json`` into the telemetry folder, for the
workflow's upload step to carry to the next run.

Every problem on the way (no token, no permission, no artifact yet, a corrupt one) is a notice;
the build's result never depends on it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from action.inputs import ActionInputs, BaselineSource
from contracts.fileio import atomic_write_text
from contracts.vocabulary import HISTORY_FILE, ActionStatus

if TYPE_CHECKING:
    from action.outcome import ActionOutcome
    from contracts.builder_result import BuilderResult
    from telemetry.history import History, HistoryEntry, Reference
    from telemetry.model import RunData

ARTIFACT_PREFIX: Final = "telemetry-history"
_SLUG_RE: Final = re.compile(r"[^A-Za-z0-9._-]+")
# upload-artifact accepts long names, but a name is also shown in the UI and in this summary.
_MAX_NAME: Final = 120
_PULL_REQUEST_EVENTS: Final = frozenset({"pull_request", "pull_request_target"})


@dataclass(frozen=True)
class HistoryPlan:
    artifact: str
    branch: str  # the comparison branch
    source: BaselineSource  # resolved: ARTIFACTS, WORKSPACE or NONE
    previous: History | None
    reference: Reference | None
    found_in: str  # where the previous history came from, in words ("" when none)
    notices: tuple[str, ...]

    @property
    def workspace_baseline(self) -> bool:
        """Whether baseline.json in the telemetry folder may stand in for missing reference runs."""
        return self.source is not BaselineSource.NONE


@dataclass(frozen=True)
class HistoryView:
    """What the summary and the outputs show of the history after this run."""

    artifact: str
    path: str  # workspace-relative history.json ("" when it could not be written)
    entries: tuple[HistoryEntry, ...]
    run_id: str  # this run's entry
    branch: str
    found_in: str
    notices: tuple[str, ...]


def _slug(text: str) -> str:
    return _SLUG_RE.sub("-", text).strip("-.") or "x"


def artifact_name(inputs: ActionInputs, package: str, environ: Mapping[str, str]) -> str:
    """``history-artifact``, or one derived from what this leg builds."""
    if inputs.history_artifact:
        return inputs.history_artifact
    if inputs.command:
        # A command build has no package name: the job and the runner's platform tell its legs
        # apart (a matrix over runners); legs that differ otherwise name their history themselves.
        platform = "-".join(p for p in (environ.get("RUNNER_OS", ""), environ.get("RUNNER_ARCH", "")) if p)
        parts = [environ.get("GITHUB_JOB", "") or "command", *([platform.lower()] if platform else [])]
    else:
        arches = "-".join(inputs.architectures) or "all"
        suites = "-".join(inputs.distributions) or "all"
        parts = [package or Path(inputs.config_file.relative).stem, arches, suites]
    name = "-".join([ARTIFACT_PREFIX, *(_slug(p) for p in parts)])
    return name[:_MAX_NAME]


def comparison_branch(environ: Mapping[str, str]) -> str:
    if environ.get("GITHUB_EVENT_NAME", "") in _PULL_REQUEST_EVENTS:
        return environ.get("GITHUB_BASE_REF", "")
    return environ.get("GITHUB_REF_NAME", "")


def _own_branch(environ: Mapping[str, str]) -> str:
    if environ.get("GITHUB_EVENT_NAME", "") in _PULL_REQUEST_EVENTS:
        return environ.get("GITHUB_HEAD_REF", "")
    return environ.get("GITHUB_REF_NAME", "")


def resolve_source(inputs: ActionInputs, environ: Mapping[str, str]) -> BaselineSource:
    if inputs.baseline_source is not BaselineSource.AUTO:
        return inputs.baseline_source
    on_github = environ.get("GITHUB_ACTIONS", "") == "true" and bool(environ.get("GITHUB_REPOSITORY"))
    return BaselineSource.ARTIFACTS if on_github and inputs.github_token else BaselineSource.WORKSPACE


def _from_artifacts(
    inputs: ActionInputs, artifact: str, branch: str, environ: Mapping[str, str]
) -> tuple[History | None, str, str | None]:
    from action.history_source import HistoryQuery, fetch_history
    from multiarch.sources.github import api_url_from_env

    if not branch:
        return None, "", "no comparison branch (GITHUB_REF_NAME / GITHUB_BASE_REF unset)"
    query = HistoryQuery(
        repository=environ.get("GITHUB_REPOSITORY", ""),
        artifact_name=artifact,
        branch=branch,
        current_run_id=environ.get("GITHUB_RUN_ID", ""),
        api_url=api_url_from_env(environ),
        token=inputs.github_token,
    )
    lookup = fetch_history(query)
    return lookup.history, lookup.describe(), lookup.notice


def _from_workspace(inputs: ActionInputs) -> tuple[History | None, str, str | None]:
    from telemetry.history import load_history

    path = inputs.telemetry_dir.absolute / HISTORY_FILE
    loaded = load_history(path)
    where = f"{inputs.telemetry_dir.relative}/{HISTORY_FILE}"
    return loaded.history, where if loaded.history else "", loaded.problem


def plan_history(
    inputs: ActionInputs, result: BuilderResult | None, environ: Mapping[str, str]
) -> HistoryPlan:
    from telemetry.history import reference_of, reference_runs

    artifact = artifact_name(inputs, result.package if result else "", environ)
    branch = comparison_branch(environ)
    source = resolve_source(inputs, environ)
    previous: History | None = None
    found_in = ""
    notice: str | None = None
    if source is BaselineSource.ARTIFACTS:
        previous, found_in, notice = _from_artifacts(inputs, artifact, branch, environ)
    elif source is BaselineSource.WORKSPACE:
        previous, found_in, notice = _from_workspace(inputs)
    runs = reference_runs(previous, branch) if previous is not None else ()
    return HistoryPlan(
        artifact=artifact,
        branch=branch,
        source=source,
        previous=previous,
        reference=reference_of(runs, branch),
        found_in=found_in,
        notices=(notice,) if notice else (),
    )


def _entry(
    outcome: ActionOutcome, run: RunData, inputs: ActionInputs, environ: Mapping[str, str]
) -> HistoryEntry:
    from telemetry.history import HistoryEntry, StageTime

    figures = outcome.telemetry
    attempt = environ.get("GITHUB_RUN_ATTEMPT", "1")
    return HistoryEntry(
        run_id=environ.get("GITHUB_RUN_ID", "") or f"local-{int(run.start_time)}",
        time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run.end_time)),
        status=outcome.status,
        duration_seconds=figures.duration_seconds if figures else run.duration_seconds,
        peak_memory_mb=figures.peak_memory_mb if figures else run.memory.peak_mb,
        baseline=inputs.save_baseline and outcome.status == ActionStatus.SUCCESS,
        run_attempt=int(attempt) if attempt.isdigit() and int(attempt) > 0 else 1,
        commit=environ.get("GITHUB_SHA", "")[:64],
        branch=_own_branch(environ)[:256],
        event=environ.get("GITHUB_EVENT_NAME", "")[:64],
        version=outcome.version[:256],
        stages=tuple(
            StageTime(s.name[:512], max(0.0, s.duration_seconds))
            for s in run.stages
            if s.duration_seconds >= 0
        )[:1000],
    )


def record_history(
    plan: HistoryPlan,
    outcome: ActionOutcome,
    run: RunData,
    inputs: ActionInputs,
    environ: Mapping[str, str],
) -> HistoryView:
    """Write history.json (the previous entries plus this run); returns what the summary shows."""
    from telemetry.history import history_document, with_entry

    entry = _entry(outcome, run, inputs, environ)
    history = with_entry(plan.previous, entry, inputs.history_size, plan.artifact)
    path = inputs.telemetry_dir.absolute / HISTORY_FILE
    notices = list(plan.notices)
    written = ""
    try:
        atomic_write_text(path, json.dumps(history_document(history), indent=2, ensure_ascii=False) + "\n")
        written = f"{inputs.telemetry_dir.relative}/{HISTORY_FILE}"
    except OSError as exc:
        notices.append(f"cannot write {path}: {exc}")
    return HistoryView(
        artifact=plan.artifact,
        path=written,
        entries=history.entries,
        run_id=entry.run_id,
        branch=plan.branch,
        found_in=plan.found_in,
        notices=tuple(notices),
    )
