"""Release sources: ``interface`` (the ABC and values), ``github`` and ``local`` implementations.

``create_source`` is how the builder picks one: a local folder when ``assets_dir`` is given
(the ``assets-dir`` input), else the GitHub repository through ``GITHUB_API_URL`` with
``GITHUB_TOKEN`` from the environment (never from argv).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from multiarch.errors import ConfigError
from multiarch.sources.interface import (
    DownloadResult,
    Release,
    ReleaseAsset,
    ReleaseSource,
    RetryPolicy,
)

__all__ = [
    "DownloadResult",
    "Release",
    "ReleaseAsset",
    "ReleaseSource",
    "RetryPolicy",
    "create_source",
]


def create_source(
    github_repo: str | None,
    assets_dir: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    license_spdx: str | None = None,
) -> ReleaseSource:
    if assets_dir is not None:
        from multiarch.sources.local import LocalSource

        return LocalSource(assets_dir, license_spdx=license_spdx)
    if not github_repo:
        raise ConfigError(
            "no release source: set github_repo in the config or pass assets-dir",
            field="github_repo",
        )
    from multiarch.sources.github import GitHubSource  # PyGithub only when GitHub is used

    return GitHubSource.from_env(github_repo, environ, retry=retry)
