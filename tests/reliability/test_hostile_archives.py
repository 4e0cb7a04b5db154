"""Hostile release archives against ``multiarch.extract``.

For every kind in ``hostile.CASES``: nothing may appear, change or gain a link outside the
extraction root (the sandbox around it is scanned before and after), the root itself must hold
no link that resolves outside, no device node or FIFO and no setuid/setgid/sticky bit; an
archive refused is refused with the expected category and a message naming the asset and the
entry. A case may also pass by being neutralised (bits dropped, a later duplicate replacing an
earlier one as tar does) when the extractor documents that behaviour, and the figures say which.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from multiarch.errors import MultiarchError
from multiarch.extract import ExtractLimits, extract_asset
from tests.reliability import hostile
from tests.reliability.action_run import ActionRun, Workspace, obeyed_commands
from tests.reliability.conftest import Figures
from tests.reliability.hostile import VICTIM_TEXT, Sandbox

ROW = "Hostile archives"


def _root_problems(box: Sandbox) -> list[str]:
    """What must never be inside the root after an extraction (finished or aborted)."""
    problems = []
    root_real = os.path.realpath(box.root)
    for dirpath, dirnames, filenames in os.walk(box.root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, box.root)
            if stat.S_ISLNK(st.st_mode):
                real = os.path.realpath(path)
                if real != root_real and not real.startswith(root_real + os.sep):
                    problems.append(f"{rel}: symlink resolves outside to {real}")
            elif not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                problems.append(f"{rel}: special file (mode {oct(st.st_mode)})")
            if st.st_mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX):
                problems.append(f"{rel}: special permission bits {oct(st.st_mode & 0o7000)}")
            if stat.S_ISREG(st.st_mode) and os.stat(path).st_ino == os.stat(box.victim).st_ino:
                problems.append(f"{rel}: hardlinked to the victim file outside the root")
    return problems


def _sanitised(case: hostile.HostileCase, box: Sandbox) -> str:
    """The outcome when the extractor neutralised the case instead of refusing it."""
    assert case.may_sanitise is not None, f"{case.kind}: extracted without error, expected a refusal"
    if case.may_sanitise == "no-special-bits":
        tool = box.root / "pkg" / "tool"
        assert tool.is_file()
        assert tool.stat().st_mode & 0o7000 == 0
        return "neutralised: special bits dropped"
    if case.may_sanitise == "later-duplicate-wins":
        assert (box.root / "pkg" / "tool").read_bytes() == b"\x7fELF second"
        return "neutralised: later duplicate replaced the earlier (tar semantics)"
    if case.may_sanitise == "link-replaced-not-followed":
        assert (box.root / "pkg" / "tool").read_bytes() == hostile.PAYLOAD
        alias = box.root / "pkg" / "alias"
        assert not alias.is_symlink() and alias.read_bytes() == b"overwritten\n"
        return "neutralised: later file replaced the link, did not write through it"
    raise AssertionError(case.may_sanitise)


@pytest.mark.parametrize("kind", list(hostile.CASES))
def test_hostile_archive(kind: str, tmp_path: Path, figures: Figures) -> None:
    with figures.case(ROW, kind) as record:
        box = Sandbox.create(tmp_path / "sandbox")
        case = hostile.build(kind, box)
        downloads = tmp_path / "downloads"
        downloads.mkdir()
        asset = case.write(downloads)
        before = box.snapshot()

        error: MultiarchError | None = None
        try:
            extract_asset(asset, box.root, asset_name=case.asset_name)
        except MultiarchError as exc:
            error = exc
        # Anything else (OSError, tarfile.TarError, RecursionError …) is a bug: it propagates
        # and fails the test with its traceback.

        assert box.snapshot() == before, "something was written or changed outside the extraction root"
        assert box.victim.read_bytes() == VICTIM_TEXT
        assert os.stat(box.victim).st_nlink == 1, "the victim gained a hardlink"
        assert list(box.outside.iterdir()) == []
        assert _root_problems(box) == []

        if error is None:
            record.outcome = _sanitised(case, box)
            return
        assert error.category in case.expect, f"{kind}: category {error.category}: {error}"
        message = str(error)
        assert case.asset_name in message, f"message does not name the asset: {message}"
        if case.entry is not None:
            assert case.entry in message, f"message does not name the entry {case.entry!r}: {message}"
        record.outcome = f"refused: {error.category}"


def test_at_least_fifteen_kinds_across_tar_and_zip() -> None:
    kinds = list(hostile.CASES)
    assert len(kinds) >= 15
    assert sum(k.startswith("tar-") for k in kinds) >= 10
    assert sum(k.startswith("zip-") for k in kinds) >= 5


@pytest.mark.parametrize(
    "kind", ["tar-dotdot", "tar-write-through-symlink", "tar-hardlink-absolute", "tar-symlink-chain"]
)
def test_the_scan_catches_a_naive_extractor(kind: str, tmp_path: Path) -> None:
    """The checks above have teeth: ``tarfile`` with no filter lets these cases out."""
    box = Sandbox.create(tmp_path / "sandbox")
    case = hostile.build(kind, box)
    asset = case.write(tmp_path)
    before = box.snapshot()
    # A half-done naive extraction is fine: we only need to see what it let out.
    with tarfile.open(asset) as tar, contextlib.suppress(OSError):
        tar.extractall(box.root, filter="fully_trusted")
    escaped = box.snapshot() != before or _root_problems(box) != []
    assert escaped, f"{kind}: the naive extractor stayed inside, so this case proves nothing"


def test_bomb_limits_count_real_bytes_not_headers(tmp_path: Path, figures: Figures) -> None:
    """Absolute size: a 3 MiB archive of incompressible bytes against a 2 MiB budget.

    The ratio is ~1, so only the absolute limit can stop it, and the header is honest, so the
    limit must act while streaming or from the declared size.
    """
    with figures.case(ROW, "tar-bomb-absolute-size (random data, low ratio)") as record:
        box = Sandbox.create(tmp_path / "sandbox")
        data = hostile.tar_bytes([hostile._file("pkg/big", os.urandom(3 << 20))])
        asset = tmp_path / "tool-x86_64-unknown-linux-gnu.tar.gz"
        asset.write_bytes(data)
        limits = ExtractLimits(max_total_bytes=2 << 20)
        with pytest.raises(MultiarchError) as caught:
            extract_asset(asset, box.root, limits=limits)
        assert caught.value.category == "security"
        assert asset.name in str(caught.value) and "pkg/big" in str(caught.value)
        written = sum(p.stat().st_size for p in box.root.rglob("*") if p.is_file())
        assert written <= 2 << 20
        record.outcome = "refused: security"


def test_entry_count_bomb(tmp_path: Path, figures: Figures) -> None:
    with figures.case(ROW, "zip-entry-count-bomb") as record:
        box = Sandbox.create(tmp_path / "sandbox")
        members = [hostile._zfile(f"pkg/f{i}", b"x") for i in range(300)]
        asset = tmp_path / "tool-x86_64-unknown-linux-gnu.zip"
        asset.write_bytes(hostile.zip_bytes(members))
        with pytest.raises(MultiarchError) as caught:
            extract_asset(asset, box.root, limits=ExtractLimits(max_entries=100))
        assert caught.value.category == "security"
        assert not box.root.exists() or sum(1 for _ in box.root.rglob("*")) <= 101
        record.outcome = "refused: security"


# --------------------------------------------------------------------------- end to end

ASSET = "hello-demo-x86_64-unknown-linux-gnu.tar.gz"
INJECTED = "::warning title=pwned::workflow command from an archive entry name"


def _end_to_end_cases(outside: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (asset bytes, the entry the failure must name)."""
    binary = hostile._file("hello-demo-x86_64-unknown-linux-gnu/hello-demo", b"\x7fELF\x02\x01\x01")
    traversal = "pkg/../../x\n" + INJECTED
    return {
        "entrypoint: traversal with a workflow command in the entry name": (
            hostile.tar_bytes([binary, hostile._file(traversal)]),
            "pkg/../../x",
        ),
        "entrypoint: absolute path": (
            hostile.tar_bytes([binary, hostile._file(str(outside / "escaped"))]),
            "escaped",
        ),
        "entrypoint: symlink then write through it": (
            hostile.tar_bytes([binary, hostile._symlink("pkg/d", str(outside)), hostile._file("pkg/d/evil")]),
            "pkg/d",
        ),
        "entrypoint: ratio bomb": (
            hostile.tar_gz_bomb("hello-demo-x86_64-unknown-linux-gnu/big", 64 << 20),
            "big",
        ),
    }


def test_hostile_release_asset_through_the_entrypoint(tmp_path: Path, figures: Figures) -> None:
    """The same attacks as a release asset (with a matching checksum) built by the action."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_bytes(VICTIM_TEXT)
    cases = _end_to_end_cases(outside)

    def run(name: str) -> tuple[Workspace, ActionRun]:
        ws = Workspace.create(tmp_path / name.split(":")[1].strip().replace(" ", "-"))
        ws.add_demo()
        data = cases[name][0]
        (ws.root / "release" / ASSET).write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        (ws.root / "release" / f"{ASSET}.sha256").write_text(f"{digest}  {ASSET}\n")
        inputs = {"version": "v1.0.0", "assets-dir": "release", "output-dir": "out", "architecture": "amd64"}
        return ws, ws.run(inputs)

    with ThreadPoolExecutor(max_workers=len(cases)) as pool:
        runs = dict(zip(cases, pool.map(run, cases), strict=True))
    for name, (ws, result) in runs.items():
        with figures.case(ROW, name) as record:
            result.check_no_traceback()
            assert result.returncode != 0, result.log()
            assert result.outputs.get("failure-category") == "security", result.log()
            summary = result.check_summary()
            reasons = " ".join(str(job.get("reason", "")) for job in summary["failed"])
            assert ASSET in reasons and cases[name][1] in reasons, summary["failed"]
            assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"]
            assert (outside / "victim.txt").read_bytes() == VICTIM_TEXT
            assert not list((ws.root / "out").glob("*.deb")) if (ws.root / "out").exists() else True
            # Text from the archive reaches the log, but the runner must not act on it.
            # (The action's own annotations quote it escaped, as data: that is fine.)
            injected = [c for c in obeyed_commands(result.stdout) if c.startswith("::warning title=pwned")]
            assert not injected, result.stdout
            record.outcome = "entrypoint: refused: security; no escape; no workflow command obeyed"
