"""Failure analysis: structured classification first, log rules on a corpus of real messages."""

from __future__ import annotations

import json
import signal
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from telemetry.events import CATEGORIES
from telemetry.failures import (
    FailureRules,
    FailureRulesError,
    analyze_run,
    classify_event,
    classify_outcome,
    classify_text,
    clean_lines,
    load_rules,
    match_log,
    run_status,
    signal_name,
    signal_number,
    structured_verdict,
)
from telemetry.model import FailureEvent, ProcessOutcome, StageRecord
from tests.telemetry.factories import T0, make_run

CORPUS = Path(__file__).parent / "corpus" / "failure_messages.jsonl"
RULES_JSON = Path(__file__).resolve().parents[2] / "telemetry" / "data" / "failure_rules.json"


@pytest.fixture(scope="module")
def rules() -> FailureRules:
    return load_rules()


def _corpus() -> list[dict[str, object]]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_corpus_is_big_and_covers_every_category() -> None:
    entries = _corpus()
    assert len(entries) >= 60
    assert {e["category"] for e in entries} == set(CATEGORIES)
    tools = {e["tool"] for e in entries}
    for needed in ("apt-get", "dpkg-deb", "lintian", "curl", "wget", "gcc", "make", "qemu", "python", "gpg"):
        assert needed in tools, needed


def test_corpus_classification(rules: FailureRules) -> None:
    entries = _corpus()
    misses: list[str] = []
    for e in entries:
        got = classify_text(str(e["message"]), rules)
        if got.category != e["category"] or got.transient != e["transient"]:
            misses.append(
                f"[{e['tool']}] expected {e['category']}/transient={e['transient']}, "
                f"got {got.category}/transient={got.transient} via {got.matched_rule or '(none)'}: "
                f"{str(e['message'])[:120]!r}"
            )
        if got.category != "unknown":
            # The reason quotes lines of the message itself, never invented text.
            assert all(line in str(e["message"]) for line in got.reason.splitlines())
    print(f"\ncorpus: {len(entries) - len(misses)}/{len(entries)} classified right")
    for miss in misses:
        print("MISS", miss)
    assert (len(entries) - len(misses)) / len(entries) >= 0.95, "\n".join(misses)


def test_every_rule_is_exercised_by_the_corpus(rules: FailureRules) -> None:
    # A rule no real message needs is a rule nobody can check; keep the data honest.
    used = {classify_text(str(e["message"]), rules).matched_rule for e in _corpus()}
    unused = [r.id for r in rules.rules if f"rule:{r.id}" not in used]
    assert unused == [], unused


def test_earliest_strong_line_wins_over_later_consequences(rules: FailureRules) -> None:
    log = [
        "mkdir: cannot create directory '/usr/local/share/foo': Permission denied",
        "make: *** [Makefile:30: install] Error 1",
    ]
    got = classify_text(log, rules)
    assert (got.category, got.matched_rule) == ("permission", "rule:permission-denied")
    # DNS failure during apt-get update explains the later "Unable to locate package".
    got = classify_text(
        [
            "Err:1 http://mirror.example.org/debian bookworm InRelease",
            "  Temporary failure resolving 'mirror.example.org'",
            "E: Unable to locate package jq",
        ],
        rules,
    )
    assert got.category == "network" and got.transient


def test_ansi_colours_do_not_hide_errors(rules: FailureRules) -> None:
    got = classify_text("\x1b[1m\x1b[31merror[E0308]\x1b[0m: mismatched types", rules)
    assert got.category == "compilation"


# ----------------------------------------------------------------- structured first


@pytest.mark.parametrize(
    ("code", "category", "transient", "matched"),
    [
        ("ENOSPC", "resource", False, "errno:ENOSPC"),
        ("errno:13", "permission", False, "errno:EACCES"),
        ("EPERM", "permission", False, "errno:EPERM"),
        ("ECONNRESET", "network", True, "errno:ECONNRESET"),
        ("ETIMEDOUT", "network", True, "errno:ETIMEDOUT"),
        ("HTTP 503", "network", True, "http:503"),
        ("404", "network", False, "http:404"),
        ("http:401", "permission", False, "http:401"),
        ("429", "network", True, "http:429"),
        ("ModuleNotFoundError", "dependency", False, "exception:ModuleNotFoundError"),
        ("builtins.PermissionError", "permission", False, "exception:PermissionError"),
        ("multiarch.errors.SecurityError", "security", False, "exception:SecurityError"),
        ("127", "dependency", False, "exit:127"),
        ("SIGXFSZ", "resource", False, "signal:SIGXFSZ"),
        ("signal:4", "architecture", False, "signal:SIGILL"),
    ],
)
def test_structured_codes(
    rules: FailureRules, code: str, category: str, transient: bool, matched: str
) -> None:
    event = FailureEvent(stage="download", reason="opaque words", code=code, time=T0)
    got = classify_event(event, rules)
    assert (got.category, got.transient, got.matched_rule) == (category, transient, matched)
    assert got.remediation, "every verdict carries remediation"


def test_reported_category_wins_and_keeps_its_remediation(rules: FailureRules) -> None:
    event = FailureEvent(
        "verify",
        "sha256 mismatch for uv.tar.gz",
        "1",
        T0,
        category="security",
        transient=False,
        remediation=("Compare with upstream's SHA256SUMS.",),
    )
    got = classify_event(event, rules)
    assert got.category == "security" and got.matched_rule == "category:security"
    assert got.remediation == ("Compare with upstream's SHA256SUMS.",)
    assert got.exit_code == 1 and got.stage == "verify"


def test_errno_in_python_message_is_structured(rules: FailureRules) -> None:
    event = FailureEvent("package", "OSError: [Errno 28] No space left on device", "", T0)
    assert classify_event(event, rules).matched_rule == "errno:ENOSPC"


def test_opaque_event_falls_back_to_output_tail(rules: FailureRules) -> None:
    outcome = ProcessOutcome(1, None, False, False, ("gpg: Can't check signature: No public key",))
    event = FailureEvent("verify", "verification step failed", "1", T0)
    got = classify_event(event, rules, outcome)
    assert got.category == "security"
    assert got.reason.splitlines() == [
        "verification step failed",
        "gpg: Can't check signature: No public key",
    ]


def test_sigkill_with_oom_is_resource(rules: FailureRules) -> None:
    outcome = ProcessOutcome(None, signal.SIGKILL, False, True, ("building...",))
    got = classify_outcome(outcome, rules, stage="architecture_arm64")
    assert (got.category, got.signal, got.matched_rule) == ("resource", "SIGKILL", "signal:SIGKILL+oom")
    assert not got.transient


def test_plain_sigkill_uses_the_log(rules: FailureRules) -> None:
    got = classify_outcome(ProcessOutcome(137, None, False, False, ("Killed",)), rules)
    assert got.category == "resource" and got.exit_code == 137
    # A bare SIGKILL with no OOM evidence is still most likely memory.
    got = classify_outcome(ProcessOutcome(None, signal.SIGKILL, False, False, ()), rules)
    assert got.category == "resource" and got.reason == "the build was killed by SIGKILL"


def test_spawn_error(rules: FailureRules) -> None:
    outcome = ProcessOutcome(
        None, None, False, False, (), spawn_error="[Errno 13] Permission denied: './build.sh'"
    )
    assert classify_outcome(outcome, rules).category == "permission"


def test_cancelled_is_not_a_failure(rules: FailureRules) -> None:
    run = make_run(
        outcome=ProcessOutcome(None, signal.SIGTERM, True, False, ("Terminated",)),
        failures=(FailureEvent("download", "interrupted", "", T0),),
    )
    assert run_status(run) == "cancelled"
    assert analyze_run(run, rules) == ()


def test_analyze_run_orders_oom_first_and_names_the_running_stage(rules: FailureRules) -> None:
    stages = (
        StageRecord("download", "success", T0, T0 + 1, 1.0),
        StageRecord("architecture_arm64", "incomplete", T0 + 1, T0 + 9, 8.0),
    )
    run = make_run(
        stages=stages,
        failures=(
            FailureEvent("architecture_amd64", "curl: (6) Could not resolve host: github.com", "6", T0),
        ),
        outcome=ProcessOutcome(None, signal.SIGKILL, False, True, ("Killed",)),
    )
    analyses = analyze_run(run, rules)
    assert [a.category for a in analyses] == ["resource", "network"]
    assert analyses[0].stage == "architecture_arm64"
    assert analyses[1].exit_code == 6


def test_failed_stage_without_event(rules: FailureRules) -> None:
    stages = (StageRecord("lintian_amd64", "failure", T0, T0 + 3, 3.0, "E: uv: no-copyright-file"),)
    run = make_run(stages=stages, outcome=ProcessOutcome(0, None, False, False))
    assert run_status(run) == "failure"
    (only,) = analyze_run(run, rules)
    assert (only.category, only.stage) == ("packaging", "lintian_amd64")


def test_success_has_no_analysis(rules: FailureRules) -> None:
    assert analyze_run(make_run(), rules) == ()


def test_unknown_keeps_the_last_lines(rules: FailureRules) -> None:
    lines = tuple(f"line {i}" for i in range(20))
    got = classify_outcome(ProcessOutcome(3, None, False, False, lines), rules)
    assert got.category == "unknown" and got.reason.splitlines() == [f"line {i}" for i in range(15, 20)]


def test_structured_verdict_rejects_noise(rules: FailureRules) -> None:
    assert structured_verdict("", rules) is None
    assert structured_verdict("1", rules) is None  # a plain exit 1 says nothing
    assert structured_verdict("SomethingElse", rules) is None


# ----------------------------------------------------------------- the rules file


def _write_rules(tmp_path: Path, mutate: object) -> Path:
    doc = json.loads(RULES_JSON.read_text(encoding="utf-8"))
    assert callable(mutate)
    mutate(doc)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_rules_schema_rejects_unknown_category(tmp_path: Path) -> None:
    path = _write_rules(tmp_path, lambda d: d["rules"][0].update(category="weather"))
    with pytest.raises(FailureRulesError, match="rules/0/category"):
        load_rules(path)


def test_rules_bad_regex_is_reported_with_rule_id(tmp_path: Path) -> None:
    path = _write_rules(tmp_path, lambda d: d["rules"][1]["patterns"].append("(unclosed"))
    with pytest.raises(FailureRulesError, match="disk-full"):
        load_rules(path)


def test_rules_unknown_errno_name(tmp_path: Path) -> None:
    path = _write_rules(tmp_path, lambda d: d["errno"].update(ENOTAREALERRNO={"category": "resource"}))
    with pytest.raises(FailureRulesError, match="ENOTAREALERRNO"):
        load_rules(path)


def test_rules_not_json(tmp_path: Path) -> None:
    path = tmp_path / "rules.json"
    path.write_text("{", encoding="utf-8")
    with pytest.raises(FailureRulesError):
        load_rules(path)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.text(max_size=200), max_size=8))
def test_classification_never_raises_and_quotes_input(rules: FailureRules, lines: list[str]) -> None:
    got = classify_text(lines, rules)
    assert got.category in CATEGORIES
    found = match_log(lines, rules)
    if found is not None:
        cleaned = clean_lines(lines)
        assert all(line in cleaned for line in found.lines)


def test_event_transient_override(rules: FailureRules) -> None:
    event = FailureEvent(
        "download", "curl: (22) The requested URL returned error: 404", "22", T0, transient=True
    )
    got = classify_event(event, rules)
    assert got.category == "network" and got.transient is True
    assert replace(got, transient=False).transient is False


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.text(max_size=80),
        st.from_regex(r"(?i)(http ?|errno:|signal:|sig)?-?[0-9²٣]{1,8}", fullmatch=True),
        st.sampled_from(["²", "1" * 5000, "signal:99999", "errno:99999", "http 999", "-", "SIG", "E"]),
    )
)
def test_any_code_is_safe(rules: FailureRules, code: str) -> None:
    found = structured_verdict(code, rules)
    assert found is None or found[1].category in CATEGORIES
    got = classify_event(FailureEvent("s", "r", code, T0), rules, ProcessOutcome(1, None, False, False))
    assert got.category in CATEGORIES


def test_signal_number_reads_the_names_signal_name_writes() -> None:
    assert signal_number(signal_name(signal.SIGKILL)) == signal.SIGKILL
    assert signal_number("SIGTERM") == signal.SIGTERM
    # A number Python has no name for is written "SIG<n>"; like no signal at all, it has no number.
    assert signal_number("SIG999") is None
    assert signal_number(None) is None and signal_number("") is None
