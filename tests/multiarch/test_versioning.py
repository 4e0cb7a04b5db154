"""Debian versions per suite, checked against the real dpkg."""

from __future__ import annotations

import functools
import itertools
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multiarch import suites, versioning
from multiarch.errors import ConfigError
from tests.conftest import require_tool

SUITES = [s.name for s in suites.all_suites()]


def dpkg_lt(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "lt", b], check=False).returncode == 0


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("v0.44.1", "0.44.1"),
        ("0.5.11", "0.5.11"),
        ("14.1.1", "14.1.1"),
        ("release-2.0", "2.0"),
        ("nvim-0.10.0", "0.10.0"),
        ("v1.0.0-rc1", "1.0.0~rc1"),
        ("v1.0.0-rc.1", "1.0.0~rc.1"),
        ("1.0.0-beta.2", "1.0.0~beta.2"),
        ("0.11.0-alpha", "0.11.0~alpha"),
        ("v1.0.rc1", "1.0~rc1"),
        ("1.0rc1", "1.0~rc1"),
        ("v2.0.0-RC3", "2.0.0~rc3"),
        ("v3.0-pre", "3.0~pre"),
        ("1.2.3+build.5", "1.2.3+build.5"),
        ("2024_01_15", "2024.01.15"),
        ("1.0/2", "1.0.2"),
        ("1.0:2", "1.0.2"),
        ("1.0-", "1.0"),
        ("1.0-predator", "1.0-predator"),  # not a marker: only right after a digit
    ],
)
def test_upstream_version(tag: str, expected: str) -> None:
    assert versioning.upstream_version(tag) == expected


@pytest.mark.parametrize("tag", ["nightly", "stable", "latest", "", "v"])
def test_tag_without_digits_is_a_config_error(tag: str) -> None:
    with pytest.raises(ConfigError) as exc:
        versioning.upstream_version(tag)
    assert exc.value.field == "version"


@pytest.mark.parametrize(
    ("tag", "build", "suite", "expected"),
    [
        ("v0.44.1", "1", "bullseye", "0.44.1-1+deb11"),
        ("v0.44.1", "1", "bookworm", "0.44.1-1+deb12"),
        ("v0.44.1", "2", "trixie", "0.44.1-2+deb13"),
        ("v0.44.1", "1", "forky", "0.44.1-1+deb14"),
        ("v0.44.1", "1", "sid", "0.44.1-1+sid"),
        ("v0.44.1", "1", None, "0.44.1-1"),
        ("v1.0.0-rc1", "1", "bookworm", "1.0.0~rc1-1+deb12"),
    ],
)
def test_debian_version(tag: str, build: str, suite: str | None, expected: str) -> None:
    assert versioning.debian_version(tag, build, suite) == expected


def test_debian_version_accepts_suite_objects_and_epochs() -> None:
    assert versioning.debian_version("v1.2", "1", suites.get_suite("bookworm"), epoch=1) == "1:1.2-1+deb12"
    with pytest.raises(ConfigError) as exc:
        versioning.debian_version("v1.2", "1", "bookwrm")
    assert "did you mean 'bookworm'" in str(exc.value)
    with pytest.raises(ConfigError):
        versioning.debian_version("v1.2", "1", None, epoch=-1)


@pytest.mark.parametrize("build", ["", "x1", "-1", "1 2", "1_2", "a1", "1:2", "1-2", "１"])
def test_bad_build_version_names_the_input(build: str) -> None:
    with pytest.raises(ConfigError) as exc:
        versioning.debian_version("v1.0", build, "bookworm")
    assert exc.value.field == "build-version"
    assert repr(build) in exc.value.detail


@pytest.mark.parametrize("build", ["1", "2", "10", "1.1", "0~ppa1", "1+b1"])
def test_good_build_versions(build: str) -> None:
    assert versioning.validate_build_version(build) == build


def test_suite_order_with_real_dpkg() -> None:
    require_tool("dpkg")
    for tag in ("v0.44.1", "v1.0.0-rc1", "1.0.0-beta.2", "14.1.1"):
        versions = [versioning.debian_version(tag, "1", s) for s in SUITES]
        for older, newer in itertools.pairwise(versions):
            assert dpkg_lt(older, newer), (older, newer)


def test_upstream_codename_style_sorts_wrongly_and_ours_does_not() -> None:
    # Why the scheme exists: "+bullseye" > "+bookworm" ('u' > 'o'), so an upgraded machine
    # would keep the older suite's build. "+deb11" < "+deb12" numerically.
    require_tool("dpkg")
    assert not dpkg_lt("1.0-1+bullseye", "1.0-1+bookworm")
    assert dpkg_lt(
        versioning.debian_version("1.0", "1", "bullseye"), versioning.debian_version("1.0", "1", "bookworm")
    )


def test_prereleases_sort_below_releases_with_real_dpkg() -> None:
    require_tool("dpkg")
    ladder = [
        "v1.0.0-alpha",
        "v1.0.0-alpha.2",
        "v1.0.0-beta",
        "v1.0.0-beta.2",
        "v1.0.0-rc1",
        "v1.0.0-rc2",
        "v1.0.0",
    ]
    for suite in ("bullseye", "sid"):
        versions = [versioning.debian_version(t, "1", suite) for t in ladder]
        for lower, higher in itertools.pairwise(versions):
            assert dpkg_lt(lower, higher), (lower, higher)
    # A release in the oldest suite still beats a pre-release in the newest one.
    assert dpkg_lt(
        versioning.debian_version("v1.0.0-rc2", "1", "sid"),
        versioning.debian_version("v1.0.0", "1", "bullseye"),
    )


def test_rebuild_beats_every_suite_of_the_previous_build() -> None:
    require_tool("dpkg")
    assert dpkg_lt(
        versioning.debian_version("1.0", "1", "sid"), versioning.debian_version("1.0", "2", "bullseye")
    )
    assert dpkg_lt(
        versioning.debian_version("1.0", "9", "sid"), versioning.debian_version("1.0", "10", "bullseye")
    )


def test_deb_filename() -> None:
    assert versioning.deb_filename("uv", "0.5.11-1+deb12", "amd64") == "uv_0.5.11-1+deb12_amd64.deb"
    # dpkg-deb and dpkg-name leave the epoch out of file names.
    assert versioning.deb_filename("uv", "2:0.5.11-1+sid", "arm64") == "uv_0.5.11-1+sid_arm64.deb"
    for bad in (("../x", "1.0-1", "amd64"), ("uv", "1.0/../x", "amd64"), ("uv", "1.0-1", "amd64/../x")):
        with pytest.raises(ConfigError):
            versioning.deb_filename(*bad)


@functools.cache
@settings(max_examples=150, deadline=None)
@given(tag=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=30))
def test_any_tag_gives_a_version_dpkg_accepts_or_a_config_error(tag: str) -> None:
    try:
        version = versioning.debian_version(tag, "1", "bookworm")
    except ConfigError as exc:
        assert exc.field == "version"
        return
    assert version.endswith("-1+deb12")
    assert version[0].isdigit()
    require_tool("dpkg")
    # dpkg --validate-version is the authority on what is a valid version.
    result = subprocess.run(["dpkg", "--validate-version", version], capture_output=True, check=False)
    assert result.returncode == 0, (tag, version, result.stderr)


RELEASE = st.lists(st.integers(0, 999), min_size=1, max_size=4).map(lambda parts: ".".join(map(str, parts)))
MARKER = st.sampled_from(["-rc", "-rc.", ".rc", "rc", "-beta", "-beta.", "-alpha", "-alpha.", "-pre", "-dev"])


@settings(max_examples=200, deadline=None)
@given(
    release=RELEASE,
    prefix=st.sampled_from(["", "v", "release-"]),
    build=st.integers(1, 30),
    older=st.sampled_from(SUITES),
    newer=st.sampled_from(SUITES),
)
def test_suite_order_property(release: str, prefix: str, build: int, older: str, newer: str) -> None:
    a = versioning.debian_version(prefix + release, str(build), older)
    b = versioning.debian_version(prefix + release, str(build), newer)
    expected = suites.get_suite(older).order - suites.get_suite(newer).order
    assert (versioning.compare_versions(a, b) > 0) - (versioning.compare_versions(a, b) < 0) == (
        (expected > 0) - (expected < 0)
    )


@settings(max_examples=200, deadline=None)
@given(
    release=RELEASE,
    marker=MARKER,
    number=st.one_of(st.none(), st.integers(0, 20)),
    suite=st.sampled_from(SUITES),
)
def test_prerelease_below_release_property(release: str, marker: str, number: int | None, suite: str) -> None:
    tag = f"v{release}{marker}{'' if number is None else number}"
    if marker.endswith(".") and number is None:
        tag = tag[:-1]
    pre = versioning.debian_version(tag, "1", suite)
    final = versioning.debian_version(f"v{release}", "1", suite)
    assert "~" in pre, (tag, pre)
    assert versioning.compare_versions(pre, final) < 0, (pre, final)
    # Also below the same release built for the oldest suite.
    assert versioning.compare_versions(pre, versioning.debian_version(f"v{release}", "1", SUITES[0])) < 0
