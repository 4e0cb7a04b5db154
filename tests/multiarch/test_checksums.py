"""Expected digests from every checksum format upstreams publish, pins, and the mismatch error."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from multiarch.checksums import ChecksumIndex, PinnedMetadata, parse_checksums, verify_file
from multiarch.errors import ConfigError, SecurityError
from multiarch.sources.interface import Release, ReleaseAsset
from multiarch.sources.local import LocalSource

DATA = b"the binary\n"
SHA256 = hashlib.sha256(DATA).hexdigest()
SHA512 = hashlib.sha512(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()
SHA1 = hashlib.sha1(DATA).hexdigest()
NAME = "tool_1.0.0_linux_amd64.tar.gz"


def make_release(
    tmp_path: Path, files: dict[str, str | bytes], *, digest: str | None = None
) -> tuple[Release, Path]:
    """A release of ``NAME`` (holding DATA) plus ``files``, read through the local source."""
    folder = tmp_path / "rel"
    folder.mkdir()
    (folder / NAME).write_bytes(DATA)
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    source = LocalSource(folder)
    release = source.get_release("v1.0.0")
    if digest is not None:  # model GitHub's API digest on the asset
        assets = tuple(
            ReleaseAsset(a.name, a.size, a.download_ref, digest if a.name == NAME else None)
            for a in release.assets
        )
        release = Release(release.tag, assets)
    return release, folder / NAME


def index_for(release: Release, pin: PinnedMetadata | None = None) -> ChecksumIndex:
    folder = Path(release.assets[0].download_ref).parent
    return ChecksumIndex(release, LocalSource(folder).read_bytes, pin)


# -- formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "source", "algorithm"),
    [
        ({f"{NAME}.sha256": f"{SHA256}  {NAME}\n"}, f"{NAME}.sha256", "sha256"),
        ({f"{NAME}.sha256": f"{SHA256} *{NAME}\n"}, f"{NAME}.sha256", "sha256"),  # binary-mode marker
        ({f"{NAME}.sha256": f"{SHA256}\n"}, f"{NAME}.sha256", "sha256"),  # bare digest
        ({f"{NAME}.sha256sum": f"{SHA256.upper()}  ./dist/{NAME}\r\n"}, f"{NAME}.sha256sum", "sha256"),
        ({f"{NAME}.sha512": f"{SHA512}  {NAME}\n"}, f"{NAME}.sha512", "sha512"),
        ({"SHA256SUMS": f"{'0' * 64}  other.tar.gz\n{SHA256}  {NAME}\n"}, "SHA256SUMS", "sha256"),
        ({"SHA512SUMS": f"{SHA512}  {NAME}\n"}, "SHA512SUMS", "sha512"),
        ({"checksums.txt": f"# generated\n\n{SHA256}  {NAME}\n"}, "checksums.txt", "sha256"),
        ({"tool_1.0.0_checksums.txt": f"{SHA256}  {NAME}\n"}, "tool_1.0.0_checksums.txt", "sha256"),
        ({"sha256.sum": f"{SHA256}  {NAME}\n"}, "sha256.sum", "sha256"),
        ({"checksums.sha256": f"{SHA256}  {NAME}\n"}, "checksums.sha256", "sha256"),  # k9s
        (
            {"tool_1.0.0_linux_amd64.sha256sum": f"{SHA256}  {NAME}\n"},
            "tool_1.0.0_linux_amd64.sha256sum",
            "sha256",
        ),
        ({"tool_1.0.0_linux_amd64.sha256sum": f"{SHA256}\n"}, None, None),  # stem sidecar, bare: whose?
        ({"shasum.txt": f"{SHA256}  {NAME}\n"}, "shasum.txt", "sha256"),
        (
            {"checksums-bsd": f"SHA256 ({NAME}) = {SHA256}\nSHA512 ({NAME}) = {SHA512}\n"},
            "checksums-bsd",
            "sha512",
        ),
        ({"CHECKSUMS": f"SHA2-256 ({NAME}) = {SHA256}\n"}, None, None),  # unknown algorithm name: skipped
    ],
)
def test_formats(tmp_path: Path, files: dict[str, str], source: str | None, algorithm: str | None) -> None:
    release, path = make_release(tmp_path, files)
    result = index_for(release).verify(NAME, path)
    assert result.verified_by == source
    assert result.algorithm == algorithm
    assert result.sha256 == SHA256


def test_goreleaser_multi_hash_with_order_file(tmp_path: Path) -> None:
    # yq's layout: one line per asset, name first, then one column per algorithm in the order file.
    order = "MD5\nSHA-1\nSHA-256\nSHA-512\n"
    other = " ".join(["0" * 32, "0" * 40, "0" * 64, "0" * 128])
    line = f"{NAME}  {MD5} {SHA1} {SHA256} {SHA512}"
    release, path = make_release(
        tmp_path, {"checksums": f"other_linux_386  {other}\n{line}\n", "checksums_hashes_order": order}
    )
    index = index_for(release)
    expected = index.expected(NAME)
    assert [(d.algorithm, d.source) for d in expected] == [("sha512", "checksums"), ("sha256", "checksums")]
    result = index.verify(NAME, path)
    assert result.algorithm == "sha512" and result.verified_by == "checksums"
    assert parse_checksums(line, hashes_order=order.split())[NAME]["md5"] == MD5


def test_api_digest_only(tmp_path: Path) -> None:
    release, path = make_release(tmp_path, {}, digest=SHA256)
    result = index_for(release).verify(NAME, path)
    assert result.verified_by == "release API digest"


def test_strongest_source_reported_and_all_checked(tmp_path: Path) -> None:
    release, path = make_release(
        tmp_path,
        {f"{NAME}.sha256": f"{SHA256}  {NAME}\n", "SHA512SUMS": f"{SHA512}  {NAME}\n"},
        digest=SHA256,
    )
    result = index_for(release).verify(NAME, path)
    assert result.verified_by == f"{NAME}.sha256"  # an asset's own sidecar beats a shared sums file
    assert set(result.checked) == {
        f"{NAME}.sha256 (sha256)",
        "SHA512SUMS (sha512)",
        "release API digest (sha256)",
    }


def test_unverified_when_nothing_covers_it(tmp_path: Path) -> None:
    release, path = make_release(tmp_path, {"SHA256SUMS": f"{'1' * 64}  other\n"})
    result = index_for(release).verify(NAME, path)
    assert not result.verified and result.verified_by is None and result.sha256 == SHA256


def test_sidecar_naming_another_file_is_ignored(tmp_path: Path) -> None:
    release, _ = make_release(tmp_path, {f"{NAME}.sha256": f"{'1' * 64}  something-else.tar.gz\n"})
    assert index_for(release).expected(NAME) == []


# -- mismatches ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "digest", "source"),
    [
        ({f"{NAME}.sha256": f"{'a' * 64}  {NAME}\n"}, None, f"{NAME}.sha256"),
        ({"SHA256SUMS": f"{'b' * 64}  {NAME}\n"}, None, "SHA256SUMS"),
        ({f"{NAME}.sha256": f"{SHA256}  {NAME}\n"}, "c" * 64, "release API digest"),  # sources disagree
    ],
)
def test_mismatch_is_a_security_error(
    tmp_path: Path, files: dict[str, str], digest: str | None, source: str
) -> None:
    release, path = make_release(tmp_path, files, digest=digest)
    with pytest.raises(SecurityError) as info:
        index_for(release).verify(NAME, path)
    message = str(info.value)
    assert info.value.category == "security"
    assert NAME in message and source in message and SHA256 in message  # names asset, expected, actual
    assert info.value.remediation


# -- pins ----------------------------------------------------------------------------------------


def test_pin_is_authoritative(tmp_path: Path) -> None:
    release, path = make_release(tmp_path, {f"{NAME}.sha256": f"{SHA256}  {NAME}\n"})
    pin = PinnedMetadata.from_json({"version": "v1.0.0", "assets": {NAME: {"sha256": SHA256}}})
    result = index_for(release, pin).verify(NAME, path)
    assert result.verified_by == "pinned metadata"
    assert f"{NAME}.sha256 (sha256)" in result.checked


def test_pin_mismatch(tmp_path: Path) -> None:
    release, path = make_release(tmp_path, {f"{NAME}.sha256": f"{SHA256}  {NAME}\n"})
    pin = PinnedMetadata.from_json({"version": "v1.0.0", "assets": {NAME: {"sha256": "d" * 64}}})
    with pytest.raises(SecurityError, match="pinned metadata"):
        index_for(release, pin).verify(NAME, path)


def test_pin_not_covering_asset_is_an_error(tmp_path: Path) -> None:
    release, path = make_release(tmp_path, {f"{NAME}.sha256": f"{SHA256}  {NAME}\n"})
    pin = PinnedMetadata.from_json({"version": "v1.0.0", "assets": {"other.tar.gz": {"sha256": SHA256}}})
    with pytest.raises(SecurityError, match="not covered"):
        index_for(release, pin).verify(NAME, path)  # no silent fallback to the sidecar


def test_pin_for_another_version_is_a_config_error(tmp_path: Path) -> None:
    release, _ = make_release(tmp_path, {})
    pin = PinnedMetadata.from_json({"version": "v0.9.0", "assets": {NAME: {"sha256": SHA256}}})
    with pytest.raises(ConfigError) as info:
        index_for(release, pin)
    assert info.value.field == "version"


def test_pin_sha512_and_load(tmp_path: Path) -> None:
    pin_file = tmp_path / "pins.json"
    pin_file.write_text(json.dumps({"version": "v1.0.0", "assets": {NAME: {"SHA512": SHA512}}}))
    pin = PinnedMetadata.load(pin_file)
    assert pin.source == str(pin_file)
    release, path = make_release(tmp_path, {})
    assert index_for(release, pin).verify(NAME, path).algorithm == "sha512"


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"assets": {NAME: {"sha256": SHA256}}},
        {"version": "v1", "assets": {}},
        {"version": "v1", "assets": {NAME: "abc"}},
        {"version": "v1", "assets": {NAME: {"sha256": "xyz"}}},
        {"version": "v1", "assets": {NAME: {"md5": MD5}}},
    ],
)
def test_bad_pin_documents(document: object) -> None:
    with pytest.raises(ConfigError):
        PinnedMetadata.from_json(document)


def test_pin_invalid_json_names_line(tmp_path: Path) -> None:
    pin_file = tmp_path / "pins.json"
    pin_file.write_text('{\n  "version": "v1",\n  oops\n}')
    with pytest.raises(ConfigError) as info:
        PinnedMetadata.load(pin_file)
    assert info.value.line == 3 and info.value.file == str(pin_file)


# -- the real uv release layout ------------------------------------------------------------------


def test_tiny_uv_release_every_archive_verifies(tiny_release_dir: Path) -> None:
    source = LocalSource(tiny_release_dir)
    release = source.get_release("0.5.11")
    index = ChecksumIndex(release, source.read_bytes)
    for asset in release.assets:
        if asset.name.endswith(".tar.gz"):
            result = index.verify(asset.name, tiny_release_dir / asset.name)
            assert result.verified_by == f"{asset.name}.sha256"
            assert "sha256.sum (sha256)" in result.checked


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_crashes(text: str) -> None:
    parsed = parse_checksums(text, default_name="x", hashes_order=["SHA-256"])
    assert all(isinstance(v, dict) for v in parsed.values())


def test_verify_file_without_expectations(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(DATA)
    assert verify_file(path, "f", []).sha256 == SHA256


_asset_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,40}", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(
    entries=st.dictionaries(_asset_names, st.binary(min_size=0, max_size=64), min_size=1, max_size=5),
    style=st.sampled_from(["gnu", "gnu-binary", "bsd"]),
)
def test_written_sums_parse_back(entries: dict[str, bytes], style: str) -> None:
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in entries.items()}
    if style == "bsd":
        text = "".join(f"SHA256 ({n}) = {h}\n" for n, h in digests.items())
    else:
        marker = "*" if style == "gnu-binary" else " "
        text = "".join(f"{h} {marker}{n}\n" for n, h in digests.items())
    parsed = parse_checksums(text, algorithm="sha256")
    assert {n: v["sha256"] for n, v in parsed.items()} == digests


# -- checksum files package.yaml names (checksums.files) ----------------------------------------


def test_configured_file_with_an_unusual_name_is_read(tmp_path: Path) -> None:
    # No naming convention recognises "release-digests.list": only package.yaml can point at it.
    release, path = make_release(tmp_path, {"release-digests.list": f"{SHA256}  {NAME}\n"})
    index = index_for(release)
    assert index.expected(NAME) == []
    result = index.verify(NAME, path, configured=("release-digests.list",))
    assert result.verified_by == "release-digests.list" and result.algorithm == "sha256"


def test_configured_file_catches_a_tampered_asset(tmp_path: Path) -> None:
    release, path = make_release(tmp_path, {"digests.list": f"{'2' * 64}  {NAME}\n"})
    with pytest.raises(SecurityError, match=r"digests\.list"):
        index_for(release).verify(NAME, path, configured=("digests.list",))


def test_configured_per_asset_file_with_a_bare_digest(tmp_path: Path) -> None:
    release, path = make_release(tmp_path, {f"{NAME}.digest": f"{SHA256}\n"})
    result = index_for(release).verify(NAME, path, configured=(f"{NAME}.digest", "not-published.txt"))
    assert result.verified_by == f"{NAME}.digest"


def test_configured_hashes_order_with_an_unusual_name(tmp_path: Path) -> None:
    line = f"{NAME}  {MD5} {SHA256}"
    release, path = make_release(tmp_path, {"digests": f"{line}\n", "columns.txt": "MD5\nSHA-256\n"})
    folder = Path(release.assets[0].download_ref).parent
    index = ChecksumIndex(release, LocalSource(folder).read_bytes, hashes_order_name="columns.txt")
    result = index.verify(NAME, path, configured=("digests",))
    assert result.verified_by == "digests" and result.algorithm == "sha256"
