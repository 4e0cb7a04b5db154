"""Errors name their failure category in their class header; subclasses keep their parent's."""

from __future__ import annotations

from contracts.vocabulary import FailureCategory
from multiarch.build import LintianRefused
from multiarch.errors import (
    ArchitectureError,
    ConfigError,
    DependencyError,
    MultiarchError,
    NetworkError,
    PackagingError,
    PermissionDeniedError,
    ResourceError,
    SecurityError,
)
from multiarch.lintian import parse_lintian
from multiarch.sources.github import HttpStatusError


def test_each_error_carries_its_category() -> None:
    expected = {
        MultiarchError: FailureCategory.UNKNOWN,
        ConfigError: FailureCategory.CONFIGURATION,
        NetworkError: FailureCategory.NETWORK,
        SecurityError: FailureCategory.SECURITY,
        ArchitectureError: FailureCategory.ARCHITECTURE,
        PackagingError: FailureCategory.PACKAGING,
        ResourceError: FailureCategory.RESOURCE,
        PermissionDeniedError: FailureCategory.PERMISSION,
        DependencyError: FailureCategory.DEPENDENCY,
    }
    for error_class, category in expected.items():
        assert error_class("boom").category == category, error_class.__name__


def test_a_subclass_without_a_category_keeps_its_parents() -> None:
    assert HttpStatusError("HTTP 404", 404).category == FailureCategory.NETWORK
    assert LintianRefused("strict", parse_lintian("")).category == FailureCategory.PACKAGING
    assert NetworkError("reset").transient and not NetworkError("refused", transient=False).transient
