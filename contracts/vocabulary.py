"""The one vocabulary every part speaks: categories, statuses, file and variable names, defaults.

Each word that crosses a module, process or file boundary is spelled here once. The schemas,
``action.yml`` and the README's tables repeat some of them for their readers; a test checks that
they agree with this module. Stdlib only (the builder imports it).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class FailureCategory(StrEnum):
    """Why a build failed, in the telemetry guide's order; each has remediation in failure_rules.json."""

    NETWORK = "network"
    DEPENDENCY = "dependency"
    ARCHITECTURE = "architecture"
    COMPILATION = "compilation"
    PACKAGING = "packaging"
    CONFIGURATION = "configuration"
    PERMISSION = "permission"
    RESOURCE = "resource"
    SECURITY = "security"
    UNKNOWN = "unknown"


class JobStatus(StrEnum):
    """One (architecture, suite) package of the builder."""

    SUCCESS = "success"
    FAILURE = "failure"


class BuildStatus(StrEnum):
    """The builder's whole run: every job built, some, or none (or it stopped before any)."""

    SUCCESS = "success"
    PARTIAL = "partial"
    FAILURE = "failure"


class ActionStatus(StrEnum):
    """The action's ``status`` output and build-summary.json's ``status``."""

    SUCCESS = "success"
    PARTIAL = "partial"
    FAILURE = "failure"
    CANCELLED = "cancelled"


class RunStatus(StrEnum):
    """A monitored run as telemetry saw it (metrics.json ``build_metrics.status``)."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"


class StageStatus(StrEnum):
    """A timed stage. A writer reports the first three; a stage never completed is INCOMPLETE."""

    SUCCESS = "success"
    FAILURE = "failure"
    WARNING = "warning"
    INCOMPLETE = "incomplete"


# What a ``stage_complete`` event may say (INCOMPLETE is the reader's verdict, never written).
REPORTED_STAGE_STATUSES: Final = (StageStatus.SUCCESS, StageStatus.FAILURE, StageStatus.WARNING)


class EventType(StrEnum):
    """The ``type`` of a line on the stage event channel."""

    STAGE_START = "stage_start"
    STAGE_COMPLETE = "stage_complete"
    FAILURE = "failure"
    COUNTER = "counter"


class MemoryLayout(StrEnum):
    """Where a run's memory could be read from (metrics.json ``memory_metrics.layout``)."""

    DEDICATED = "dedicated"  # the build's own cgroup
    CONTAINER = "container"  # a container's cgroup holding only the entrypoint and the build
    SHARED = "shared"  # a cgroup shared with unrelated processes: the process tree is read
    NONE = "none"  # nothing to read (no samples)


# --------------------------------------------------------------------------- environment variables

ENV_EVENTS_FILE: Final = "TELEMETRY_EVENTS_FILE"
ENV_TELEMETRY_DIR: Final = "TELEMETRY_DIR"
ENV_TELEMETRY_ENABLED: Final = "TELEMETRY_ENABLED"
ENV_SAVE_BASELINE: Final = "SAVE_BASELINE"
ENV_REGRESSION_THRESHOLD: Final = "REGRESSION_THRESHOLD"

# --------------------------------------------------------------------------- file names

DEFAULT_TELEMETRY_DIR: Final = ".telemetry"
EVENTS_FILE: Final = "events.jsonl"
MEMORY_SAMPLES_FILE: Final = "memory-samples.log"
METRICS_FILE: Final = "metrics.json"
PROMETHEUS_FILE: Final = "metrics.prom"
BASELINE_FILE: Final = "baseline.json"
FAILURE_REPORT_FILE: Final = "failure-report.json"
BUILD_SUMMARY_FILE: Final = "build-summary.json"
BUILDER_RESULT_FILE: Final = ".multiarch-result.json"
CLI_STATE_FILE: Final = "session.json"
HISTORY_FILE: Final = "history.json"

# --------------------------------------------------------------------------- defaults

# An increase of this many percent or more over the baseline is a regression.
DEFAULT_REGRESSION_THRESHOLD_PERCENT: Final = 20.0
# How many runs history.json keeps.
DEFAULT_HISTORY_SIZE: Final = 20

# --------------------------------------------------------------------------- booleans

# One rule for every switch, whether it arrives as an action input or an environment variable:
# GitHub's own spellings (true/True/TRUE) and the shell's usual ones, any case.
TRUE_WORDS: Final = frozenset({"true", "1", "yes", "on", "enabled"})
FALSE_WORDS: Final = frozenset({"false", "0", "no", "off", "disabled"})


def parse_bool(text: str) -> bool | None:
    """``True``/``False`` for a recognised spelling (surrounding blanks ignored), else ``None``."""
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


# --------------------------------------------------------------------------- samplers and the CLI


class SamplerName(StrEnum):
    """A monitored run's samplers: each names its sample log and its ``sampler_errors`` lines."""

    MEMORY = "memory"
    CPU = "cpu"
    NETWORK = "network"
    DISK = "disk"


# The sample logs of a monitored run, one JSON line per tick (MEMORY_SAMPLES_FILE above is the
# memory sampler's).
CPU_SAMPLES_FILE: Final = "cpu-samples.log"
NETWORK_SAMPLES_FILE: Final = "network-samples.log"
DISK_SAMPLES_FILE: Final = "disk-samples.log"


class TelemetryCommand(StrEnum):
    """The subcommands of ``python -m telemetry`` (build scripts and the shell functions call them)."""

    INIT = "init"
    STAGE_START = "stage-start"
    STAGE_COMPLETE = "stage-complete"
    FAILURE = "failure"
    COUNTER = "counter"
    FINALIZE = "finalize"
    SUMMARY = "summary"
    SAVE_BASELINE = "save-baseline"
    CHECK_REGRESSIONS = "check-regressions"
    SHELL_FUNCTIONS = "shell-functions"


class MemorySource(StrEnum):
    """Where a memory figure came from (metrics.json ``memory_metrics.peak_source`` and figures).

    The first seven can be the headline, in the order that breaks ties; the next two are
    labelled figures only; NONE is the headline of a run that took no sample at all.
    """

    CGROUP_RESIDENT = "cgroup_resident"
    CONTAINER_CGROUP_RESIDENT = "container_cgroup_resident"
    TREE_UNIQUE = "tree_unique"
    CGROUP_INTERVAL_PEAK = "cgroup_interval_peak"
    YOUNG_PROCESS_POLL = "young_process_poll"
    PROCESS_HWM_RISE = "process_hwm_rise"
    LARGEST_PROCESS_RUSAGE = "largest_process_rusage"
    TREE_RSS_SUM = "tree_rss_sum"
    CGROUP_PEAK_WITH_PAGE_CACHE = "cgroup_peak_with_page_cache"
    NONE = "none"


# --------------------------------------------------------------------------- reports and annotations

# The telemetry folder's human-readable logs, beside metrics.json.
TELEMETRY_LOG_FILE: Final = "build-telemetry.log"
STAGES_LOG_FILE: Final = "build-stages.log"


class AnnotationLevel(StrEnum):
    """The workflow command an annotation is sent as (``::error``, ``::warning``, ``::notice``)."""

    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


# --------------------------------------------------------------------------- matrix legs and the join


class ActionMode(StrEnum):
    """The ``mode`` input: build packages (or run ``command``), or join the legs of a matrix."""

    BUILD = "build"
    AGGREGATE = "aggregate"


class LegProblem(StrEnum):
    """Why the join could not take a matrix leg as it is (build-summary.json ``legs[].problem``)."""

    MISSING = "missing"  # expected, but no build-summary.json was found for it
    UNREADABLE = "unreadable"  # build-summary.json is not JSON (truncated, empty, binary)
    INVALID = "invalid"  # JSON, but not the build-summary schema
    FOREIGN = "foreign"  # another package or version than the other legs: refused
    DUPLICATE = "duplicate"  # a package another leg also built, with different contents
