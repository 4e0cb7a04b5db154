from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.apt_mirror import debian_mirror


def _apt(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return tmp_path


def test_deb822_sources_give_the_debian_archive_not_security_or_others(tmp_path: Path) -> None:
    apt = _apt(
        tmp_path,
        {
            "sources.list.d/other.sources": "Types: deb\nURIs: https://apt.example.test/node\n",
            "sources.list.d/debian.sources": (
                "Types: deb\n# URIs: http://commented.example.test/debian\n"
                "URIs: http://mirror.example.test/debian-security\n\n"
                "Types: deb\nURIs: http://mirror.example.test/debian/\nSuites: bookworm\n"
            ),
        },
    )
    assert debian_mirror(apt, environ={}) == "http://mirror.example.test/debian"


def test_one_line_sources_with_options_and_disabled_files_ignored(tmp_path: Path) -> None:
    apt = _apt(
        tmp_path,
        {
            "sources.list": "deb [arch=amd64] http://one.example.test/debian bookworm main\n",
            "sources.list.d/x.list.disabled": "deb http://disabled.example.test/debian bookworm main\n",
        },
    )
    assert debian_mirror(apt, environ={}) == "http://one.example.test/debian"


def test_the_variable_wins_and_no_archive_is_a_clear_error(tmp_path: Path) -> None:
    assert (
        debian_mirror(tmp_path, environ={"DEBIAN_MIRROR": "http://m.example.test/d"})
        == "http://m.example.test/d"
    )
    with pytest.raises(LookupError, match="no Debian archive"):
        debian_mirror(tmp_path, environ={})


def test_this_machine_has_one() -> None:
    # The e2e image and the cgroup v2 VM bootstrap from it; without one they cannot run.
    assert debian_mirror().startswith(("http://", "https://", "file:"))
