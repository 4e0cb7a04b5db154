"""Failure analysis: what went wrong, where, and what to do about it.

Known failures are classified from their structure first, in this order:

1. the category the build reported itself (``FailureEvent.category``, set by
   ``MultiarchError`` subclasses or ``record_build_failure`` callers);
2. the failure code: an exception type name, an HTTP status, an errno name or
   number, a signal, an exit code (tables in ``data/failure_rules.json``);
3. an errno embedded the way Python prints it (``[Errno 28] ...``) in the reason.

Only opaque text (a subprocess's output tail, a free-form reason) goes through
the log-pattern rules of the data file. A structured verdict of ``unknown``
does not stop the search: the log may still know better (a bare SIGKILL whose
output ends with ``Killed`` is the OOM killer at work).

A cancelled run (we stopped it on SIGINT/SIGTERM) has no failure analysis: its
outcome is ``cancelled``, which the reporters show as such.
"""

from __future__ import annotations

import errno as errno_module
import json
import re
import signal as signal_module
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

import jsonschema

from contracts.vocabulary import FailureCategory, RunStatus, StageStatus
from telemetry.events import CATEGORIES
from telemetry.model import FailureEvent, ProcessOutcome, RunData, StageRecord

DATA_DIR: Final = Path(__file__).resolve().parent / "data"
RULES_PATH: Final = DATA_DIR / "failure_rules.json"
RULES_SCHEMA_PATH: Final = DATA_DIR / "failure_rules.schema.json"

# Reasons quote at most this many matched lines: enough for "undefined reference"
# plus its "in function" line, short enough for a job summary and an annotation.
MAX_REASON_LINES: Final = 5
MAX_LINE_CHARS: Final = 500

RUN_STATUSES: Final = tuple(RunStatus)

# A code longer than this is not a code (and int() of a huge digit string is slow or refused).
_MAX_CODE_CHARS: Final = 64
_ANSI_RE: Final = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_ERRNO_IN_TEXT_RE: Final = re.compile(r"\[Errno (-?[0-9]{1,5})\]")


class FailureRulesError(ValueError):
    """The rules file is missing, not JSON, fails its schema, or has a bad regex."""


@dataclass(frozen=True)
class Verdict:
    """What a structured key or a log rule says about a failure."""

    category: str
    transient: bool
    remediation: tuple[str, ...]


@dataclass(frozen=True)
class LogRule:
    id: str
    category: str
    transient: bool
    patterns: tuple[re.Pattern[str], ...]
    remediation: tuple[str, ...]
    # A weak rule matches consequences ("make: *** Error 1"), not causes: it only
    # decides when no strong rule matched anywhere in the text.
    weak: bool = False


@dataclass(frozen=True)
class HttpStatusRange:
    low: int
    high: int
    verdict: Verdict


@dataclass(frozen=True)
class FailureRules:
    categories: Mapping[str, Verdict]
    exceptions: Mapping[str, Verdict]
    errnos: Mapping[str, Verdict]
    http_status: tuple[HttpStatusRange, ...]
    signals: Mapping[str, Verdict]
    oom: Verdict
    exit_codes: Mapping[int, Verdict]
    spawn_errnos: Mapping[str, Verdict]  # a command that could not be started
    rules: tuple[LogRule, ...]


@dataclass(frozen=True)
class LogMatch:
    rule: LogRule
    lines: tuple[str, ...]  # the matched lines, in log order


@dataclass(frozen=True)
class FailureAnalysis:
    category: str  # one of telemetry.events.CATEGORIES
    stage: str  # the stage that failed ("build" when no stage was running)
    reason: str  # the relevant log lines or the reported reason
    exit_code: int | None
    signal: str | None  # e.g. "SIGKILL"
    transient: bool  # retrying may succeed
    remediation: tuple[str, ...]
    # How the category was found: "category:<c>" (reported by the build),
    # "exception:<Type>", "http:<status>", "errno:<NAME>", "signal:<NAME>",
    # "signal:SIGKILL+oom", "exit:<code>", "spawn_errno:<NAME>" (the command could not start),
    # "rule:<id>" (log pattern), "" (nothing matched).
    matched_rule: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "stage": self.stage,
            "reason": self.reason,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "transient": self.transient,
            "remediation": list(self.remediation),
            "matched_rule": self.matched_rule,
        }


# --------------------------------------------------------------------------- loading


def load_rules(path: Path | None = None, schema_path: Path | None = None) -> FailureRules:
    """Load and validate the rules file; every regex is compiled here, once."""
    rules_path = path or RULES_PATH
    try:
        raw = json.loads(rules_path.read_text(encoding="utf-8"))
        schema = json.loads((schema_path or RULES_SCHEMA_PATH).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FailureRulesError(f"{rules_path}: {exc}") from exc
    try:
        jsonschema.validate(raw, schema)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path)
        raise FailureRulesError(f"{rules_path}: {where}: {exc.message}") from exc
    return _build_rules(raw, str(rules_path))


def _build_rules(raw: Mapping[str, Any], origin: str) -> FailureRules:
    categories = {
        name: Verdict(name, bool(entry["transient"]), tuple(entry["remediation"]))
        for name, entry in raw["categories"].items()
    }
    missing = set(CATEGORIES) - set(categories)
    if missing:
        raise FailureRulesError(f"{origin}: categories without defaults: {', '.join(sorted(missing))}")

    def verdict(entry: Mapping[str, Any]) -> Verdict:
        default = categories[entry["category"]]
        transient = entry.get("transient", default.transient)
        remediation = tuple(entry.get("remediation", ())) or default.remediation
        return Verdict(entry["category"], bool(transient), remediation)

    def errno_table(key: str) -> dict[str, Verdict]:
        table: dict[str, Verdict] = {}
        for name, entry in raw[key].items():
            if not hasattr(errno_module, name):
                raise FailureRulesError(f"{origin}: {key}/{name}: not an errno name on this system")
            table[name] = verdict(entry)
        return table

    errnos = errno_table("errno")
    signals: dict[str, Verdict] = {}
    for name, entry in raw["signals"].items():
        if not hasattr(signal_module.Signals, name):
            raise FailureRulesError(f"{origin}: signals/{name}: not a signal name")
        signals[name] = verdict(entry)

    log_rules: list[LogRule] = []
    seen: set[str] = set()
    for entry in raw["rules"]:
        rule_id = entry["id"]
        if rule_id in seen:
            raise FailureRulesError(f"{origin}: duplicate rule id {rule_id!r}")
        seen.add(rule_id)
        flags = re.IGNORECASE if entry.get("ignore_case", False) else 0
        compiled: list[re.Pattern[str]] = []
        for pattern in entry["patterns"]:
            try:
                compiled.append(re.compile(pattern, flags))
            except re.error as exc:
                raise FailureRulesError(f"{origin}: rule {rule_id}: bad pattern {pattern!r}: {exc}") from exc
        v = verdict(entry)
        log_rules.append(
            LogRule(rule_id, v.category, v.transient, tuple(compiled), v.remediation, bool(entry.get("weak")))
        )

    return FailureRules(
        categories=MappingProxyType(categories),
        exceptions=MappingProxyType({k: verdict(v) for k, v in raw["exception_types"].items()}),
        errnos=MappingProxyType(errnos),
        http_status=tuple(HttpStatusRange(e["min"], e["max"], verdict(e)) for e in raw["http_status"]),
        signals=MappingProxyType(signals),
        oom=verdict(raw["oom"]),
        exit_codes=MappingProxyType({int(k): verdict(v) for k, v in raw["exit_codes"].items()}),
        spawn_errnos=MappingProxyType(errno_table("spawn_errno")),
        rules=tuple(log_rules),
    )


# --------------------------------------------------------------------------- log rules


def clean_lines(lines: Iterable[str]) -> list[str]:
    """Split, strip ANSI colours and trailing space, drop blank lines."""
    out: list[str] = []
    for chunk in lines:
        for line in chunk.splitlines():
            text = _ANSI_RE.sub("", line).rstrip()
            if text.strip():
                out.append(text[:MAX_LINE_CHARS])
    return out


def match_log(lines: Iterable[str], rules: FailureRules) -> LogMatch | None:
    """The rule that explains these lines best, with the lines it matched.

    Among strong rules the one matching the EARLIEST line wins (the first error
    in a log is usually the cause, later ones its consequences); rules matching
    the same line are ranked by file order. Weak rules decide only when no
    strong rule matched.
    """
    text = clean_lines(lines)
    best: tuple[int, int, int, LogRule] | None = None  # (weak, first line, rule index, rule)
    for index, rule in enumerate(rules.rules):
        for line_no, line in enumerate(text):
            if any(p.search(line) for p in rule.patterns):
                key = (int(rule.weak), line_no, index, rule)
                if best is None or key[:3] < best[:3]:
                    best = key
                break
    if best is None:
        return None
    rule = best[3]
    matched: list[str] = []
    for line in text:
        if line not in matched and any(p.search(line) for p in rule.patterns):
            matched.append(line)
            if len(matched) == MAX_REASON_LINES:
                break
    return LogMatch(rule, tuple(matched))


def classify_text(text: str | Sequence[str], rules: FailureRules) -> FailureAnalysis:
    """Classify opaque output on its own (no event, no process): the corpus test's entry point."""
    lines = [text] if isinstance(text, str) else list(text)
    return _analysis_from_text(lines, rules, stage="build", exit_code=None, signal=None)


# --------------------------------------------------------------------------- structured keys


def signal_name(number: int | None) -> str | None:
    if number is None:
        return None
    try:
        return signal_module.Signals(number).name
    except ValueError:
        return f"SIG{number}"


def signal_number(name: str | None) -> int | None:
    """The number of a signal named as ``signal_name`` names it ("SIGKILL": 9); None if unknown."""
    if not name:
        return None
    try:
        return int(signal_module.Signals[name])
    except KeyError:
        return None


def _http_verdict(status: int, rules: FailureRules) -> Verdict | None:
    for entry in rules.http_status:
        if entry.low <= status <= entry.high:
            return entry.verdict
    return None


_HTTP_CODE_RE: Final = re.compile(r"(?i)^(?:http(?:[ _:/-]*(?:status|error)?)?[ _:/-]*)([0-9]{3})$")
_ERRNO_CODE_RE: Final = re.compile(r"(?i)^(?:errno[ _:=-]*|\[errno )(-?[0-9]{1,5})\]?$")
_SIGNAL_CODE_RE: Final = re.compile(r"(?i)^(?:signal[ _:=-]*|sig)([0-9]{1,3}|[a-z]+)$")


def structured_verdict(code: str, rules: FailureRules) -> tuple[str, Verdict, int | None, str | None] | None:
    """Interpret a failure code; returns (matched_rule, verdict, exit_code, signal name).

    Accepted: errno names (``ENOSPC``) or ``errno:28``; HTTP statuses
    (``HTTP 503``, ``http:404``, or a bare 400-599, which can't be an exit code);
    signals (``SIGKILL``, ``signal:9``); exit codes 0-255 (128+N means signal N,
    the shell's convention); exception type names, dotted or not.
    """
    c = code.strip()
    if not c or len(c) > _MAX_CODE_CHARS:
        return None
    upper = c.upper()
    if upper in rules.errnos:
        return f"errno:{upper}", rules.errnos[upper], None, None
    m = _ERRNO_CODE_RE.match(c)
    if m:
        name = errno_module.errorcode.get(abs(int(m.group(1))))
        if name and name in rules.errnos:
            return f"errno:{name}", rules.errnos[name], None, None
        return None
    m = _HTTP_CODE_RE.match(c)
    if m or (_is_number(c) and 400 <= int(c) <= 599):
        status = int(m.group(1) if m else c)
        v = _http_verdict(status, rules)
        return (f"http:{status}", v, None, None) if v else None
    m = _SIGNAL_CODE_RE.match(c)
    if m:
        token = m.group(1).upper()
        sig = signal_name(int(token)) if _is_number(token) else "SIG" + token
        if sig and sig in rules.signals:
            return f"signal:{sig}", rules.signals[sig], None, sig
        return None
    if _is_number(c.removeprefix("-")):
        exit_code = int(c)
        if exit_code in rules.exit_codes:
            return f"exit:{exit_code}", rules.exit_codes[exit_code], exit_code, None
        if 128 < exit_code < 128 + 65:
            sig = signal_name(exit_code - 128)
            if sig and sig in rules.signals:
                return f"signal:{sig}", rules.signals[sig], exit_code, sig
        return None
    type_name = c.rsplit(".", 1)[-1].rstrip(":")
    if type_name in rules.exceptions:
        return f"exception:{type_name}", rules.exceptions[type_name], None, None
    return None


def _is_number(text: str) -> bool:
    # str.isdigit() accepts "²", which int() rejects; codes are ASCII decimals.
    return text.isascii() and text.isdecimal() and len(text) <= _MAX_CODE_CHARS


def _errno_in_text(text: str, rules: FailureRules) -> tuple[str, Verdict] | None:
    # "[Errno 28] No space left on device" is how Python formats OSError: the
    # number is structured data even inside a message.
    m = _ERRNO_IN_TEXT_RE.search(text)
    if not m:
        return None
    name = errno_module.errorcode.get(abs(int(m.group(1))))
    if name and name in rules.errnos:
        return f"errno:{name}", rules.errnos[name]
    return None


# --------------------------------------------------------------------------- analyses


def _analysis_from_text(
    lines: Sequence[str],
    rules: FailureRules,
    *,
    stage: str,
    exit_code: int | None,
    signal: str | None,
    fallback_reason: str = "",
) -> FailureAnalysis:
    found = match_log(lines, rules)
    if found is not None:
        return FailureAnalysis(
            category=found.rule.category,
            stage=stage,
            reason="\n".join(found.lines),
            exit_code=exit_code,
            signal=signal,
            transient=found.rule.transient,
            remediation=found.rule.remediation,
            matched_rule=f"rule:{found.rule.id}",
        )
    unknown = rules.categories[FailureCategory.UNKNOWN]
    reason = fallback_reason or "\n".join(clean_lines(lines)[-MAX_REASON_LINES:])
    return FailureAnalysis(
        FailureCategory.UNKNOWN, stage, reason, exit_code, signal, unknown.transient, unknown.remediation, ""
    )


def _with_verdict(
    verdict: Verdict,
    matched: str,
    *,
    stage: str,
    reason: str,
    exit_code: int | None,
    signal: str | None,
    transient: bool | None = None,
    remediation: tuple[str, ...] = (),
) -> FailureAnalysis:
    return FailureAnalysis(
        category=verdict.category,
        stage=stage,
        reason=reason,
        exit_code=exit_code,
        signal=signal,
        transient=verdict.transient if transient is None else transient,
        remediation=remediation or verdict.remediation,
        matched_rule=matched,
    )


def _event_verdict(
    event: FailureEvent, rules: FailureRules, proc_exit: int | None, proc_signal: str | None
) -> tuple[str, Verdict, int | None, str | None] | None:
    """What the event says in structured form: its category, its code, or an errno in its reason.

    Returns (how it matched, the verdict, exit code, signal name), like ``structured_verdict``;
    the exit code and signal are the process's unless the event's code names its own.
    """
    exit_code = _code_as_exit(event.code, proc_exit)
    if event.category in CATEGORIES and event.category != FailureCategory.UNKNOWN:
        return f"category:{event.category}", rules.categories[event.category], exit_code, proc_signal
    found = structured_verdict(event.code, rules)
    if found is not None and found[1].category != FailureCategory.UNKNOWN:
        matched, verdict, code_exit, code_signal = found
        return matched, verdict, proc_exit if code_exit is None else code_exit, code_signal or proc_signal
    in_text = _errno_in_text(event.reason, rules)
    if in_text is not None and in_text[1].category != FailureCategory.UNKNOWN:
        return *in_text, exit_code, proc_signal
    return None


def classify_event(
    event: FailureEvent,
    rules: FailureRules,
    outcome: ProcessOutcome | None = None,
) -> FailureAnalysis:
    """Classify one failure the build reported (``record_build_failure``)."""
    proc_exit = outcome.exit_code if outcome else None
    proc_signal = signal_name(outcome.signal) if outcome else None
    stage = event.stage or "build"

    said = _event_verdict(event, rules, proc_exit, proc_signal)
    if said is not None:
        matched, v, said_exit, said_signal = said
        return _with_verdict(
            v,
            matched,
            stage=stage,
            reason=event.reason,
            exit_code=said_exit,
            signal=said_signal,
            transient=event.transient,
            remediation=event.remediation,
        )

    # Opaque: the reported reason first, then what the process printed last.
    exit_code = _code_as_exit(event.code, proc_exit)
    by_reason = _analysis_from_text(
        [event.reason], rules, stage=stage, exit_code=exit_code, signal=proc_signal
    )
    result = (
        by_reason
        if by_reason.category != FailureCategory.UNKNOWN
        else _replace_reason(by_reason, event.reason)
    )
    if by_reason.category == FailureCategory.UNKNOWN and outcome is not None and outcome.output_tail:
        by_tail = _analysis_from_text(
            outcome.output_tail, rules, stage=stage, exit_code=exit_code, signal=proc_signal
        )
        if by_tail.category != FailureCategory.UNKNOWN:
            # Keep the build's own words first; the log lines explain them.
            result = _replace_reason(by_tail, _join_reason(event.reason, by_tail.reason))
    if event.transient is not None or event.remediation:
        result = replace(
            result,
            transient=result.transient if event.transient is None else event.transient,
            remediation=event.remediation or result.remediation,
        )
    return result


def classify_outcome(outcome: ProcessOutcome, rules: FailureRules, stage: str = "build") -> FailureAnalysis:
    """Classify a failed process from its exit status and output alone."""
    sig = signal_name(outcome.signal)
    if outcome.oom_killed:
        reason = "killed by the kernel OOM killer"
        tail = match_log(outcome.output_tail, rules)
        if tail is not None and tail.rule.category == FailureCategory.RESOURCE:
            reason = _join_reason(reason, "\n".join(tail.lines))
        return _with_verdict(
            rules.oom,
            "signal:SIGKILL+oom",
            stage=stage,
            reason=reason,
            exit_code=outcome.exit_code,
            signal=sig,
        )
    if outcome.spawn_error:
        spawn_match = _ERRNO_IN_TEXT_RE.search(outcome.spawn_error)
        spawn_name = errno_module.errorcode.get(abs(int(spawn_match.group(1)))) if spawn_match else None
        if spawn_name and spawn_name in rules.spawn_errnos:
            return _with_verdict(
                rules.spawn_errnos[spawn_name],
                f"spawn_errno:{spawn_name}",
                stage=stage,
                reason=outcome.spawn_error,
                exit_code=outcome.exit_code,
                signal=sig,
            )
        found_errno = _errno_in_text(outcome.spawn_error, rules)
        if found_errno is not None:
            return _with_verdict(
                found_errno[1],
                found_errno[0],
                stage=stage,
                reason=outcome.spawn_error,
                exit_code=outcome.exit_code,
                signal=sig,
            )
        return _analysis_from_text(
            [outcome.spawn_error],
            rules,
            stage=stage,
            exit_code=outcome.exit_code,
            signal=sig,
            fallback_reason=outcome.spawn_error,
        )
    structured: tuple[str, Verdict] | None = None
    if sig is not None and sig in rules.signals:
        structured = (f"signal:{sig}", rules.signals[sig])
    elif outcome.exit_code is not None:
        found = structured_verdict(str(outcome.exit_code), rules)
        if found is not None:
            structured = (found[0], found[1])
    by_log = _analysis_from_text(
        outcome.output_tail, rules, stage=stage, exit_code=outcome.exit_code, signal=sig
    )
    if structured is not None and structured[1].category != FailureCategory.UNKNOWN:
        return _with_verdict(
            structured[1],
            structured[0],
            stage=stage,
            reason=by_log.reason or _describe_exit(outcome),
            exit_code=outcome.exit_code,
            signal=sig,
        )
    if by_log.category != FailureCategory.UNKNOWN:
        return by_log
    return _replace_reason(by_log, by_log.reason or _describe_exit(outcome))


def run_status(run: RunData) -> RunStatus:
    """``success``, ``failure`` or ``cancelled`` for the run as a whole."""
    outcome = run.outcome
    if outcome.cancelled:
        return RunStatus.CANCELLED
    if (
        run.failures
        or outcome.spawn_error
        or outcome.oom_killed
        or outcome.signal is not None
        or (outcome.exit_code is not None and outcome.exit_code != 0)
        or any(s.status == StageStatus.FAILURE for s in run.stages)
    ):
        return RunStatus.FAILURE
    return RunStatus.SUCCESS


def analyze_run(run: RunData, rules: FailureRules) -> tuple[FailureAnalysis, ...]:
    """Every failure of the run, the primary one (the cause to show) first.

    Empty for a successful or cancelled run. An OOM kill is primary whatever was
    recorded, since it ended the build; otherwise the first failure the build
    reported, then failed stages, then the process's exit status and output.
    """
    if run_status(run) != RunStatus.FAILURE:
        return ()
    outcome = run.outcome
    analyses: list[FailureAnalysis] = []
    running = _running_stage(run.stages)
    if outcome.oom_killed:
        analyses.append(classify_outcome(outcome, rules, stage=running))
    analyses.extend(classify_event(ev, rules, outcome) for ev in sorted(run.failures, key=lambda e: e.time))
    if not analyses:
        failed = [s for s in run.stages if s.status == StageStatus.FAILURE]
        for stage in failed:
            lines = [stage.message] if stage.message else []
            by_message = _analysis_from_text(
                lines,
                rules,
                stage=stage.name,
                exit_code=outcome.exit_code,
                signal=signal_name(outcome.signal),
            )
            if by_message.category == FailureCategory.UNKNOWN and outcome.output_tail:
                by_tail = classify_outcome(outcome, rules, stage=stage.name)
                by_message = _replace_reason(by_tail, _join_reason(stage.message, by_tail.reason))
            analyses.append(by_message)
    if not analyses:
        analyses.append(classify_outcome(outcome, rules, stage=running))
    return tuple(analyses)


# --------------------------------------------------------------------------- helpers


def _running_stage(stages: Sequence[StageRecord]) -> str:
    """The stage a dying build was in: the last never-completed one, else the last one."""
    for stage in reversed(stages):
        if stage.status == StageStatus.INCOMPLETE:
            return stage.name
    return stages[-1].name if stages else "build"


def _code_as_exit(code: str, default: int | None) -> int | None:
    c = code.strip()
    if _is_number(c) and int(c) <= 255:
        return int(c)
    return default


def _describe_exit(outcome: ProcessOutcome) -> str:
    if outcome.signal is not None:
        return f"the build was killed by {signal_name(outcome.signal)}"
    if outcome.exit_code is not None:
        return f"the build exited with status {outcome.exit_code}"
    return "the build failed"


def _join_reason(first: str, second: str) -> str:
    parts = [p for p in (first.strip(), second.strip()) if p]
    return "\n".join(dict.fromkeys(parts))


def _replace_reason(analysis: FailureAnalysis, reason: str) -> FailureAnalysis:
    return replace(analysis, reason=reason)
