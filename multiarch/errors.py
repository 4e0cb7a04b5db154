"""Errors that carry their failure category from where they are raised.

The categories are the vocabulary's (``contracts.vocabulary.FailureCategory``); nobody greps
our own messages to classify them.
"""

from __future__ import annotations

from typing import ClassVar

from contracts.vocabulary import FailureCategory


class MultiarchError(Exception):
    """Base of every error the builder raises on purpose."""

    category: ClassVar[FailureCategory] = FailureCategory.UNKNOWN
    transient: bool = False

    def __init_subclass__(cls, *, category: FailureCategory | None = None, **kwargs: object) -> None:
        # The category is part of the class's header; a subclass without one keeps its parent's.
        super().__init_subclass__(**kwargs)
        if category is not None:
            cls.category = category

    def __init__(self, message: str, *, remediation: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation


class ConfigError(MultiarchError, category=FailureCategory.CONFIGURATION):
    """A problem in package.yaml or in the build's arguments; names file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        remediation: tuple[str, ...] = (),
    ) -> None:
        where = ""
        if file:
            where = file if line is None else f"{file}:{line}"
        parts = [p for p in (where, f"field '{field}'" if field else "") if p]
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {message}" if prefix else message, remediation=remediation)
        self.file = file
        self.line = line
        self.field = field
        self.detail = message


class NetworkError(MultiarchError, category=FailureCategory.NETWORK):
    """A request that failed or timed out; transient unless the caller says otherwise."""

    def __init__(self, message: str, *, transient: bool = True, remediation: tuple[str, ...] = ()) -> None:
        super().__init__(message, remediation=remediation)
        self.transient = transient


class SecurityError(MultiarchError, category=FailureCategory.SECURITY):
    """Checksum mismatch, unsafe archive entry, pin violation."""


class ArchitectureError(MultiarchError, category=FailureCategory.ARCHITECTURE):
    """A binary whose ELF header does not match the target Debian architecture."""


class PackagingError(MultiarchError, category=FailureCategory.PACKAGING):
    """Broken archive, no binary found, dpkg/lintian trouble."""


class ResourceError(MultiarchError, category=FailureCategory.RESOURCE):
    """Out of disk space or memory."""


class PermissionDeniedError(MultiarchError, category=FailureCategory.PERMISSION):
    """Access refused: a token GitHub rejects or that may not read the repository."""


class DependencyError(MultiarchError, category=FailureCategory.DEPENDENCY):
    """A tool the build needs is not installed (lintian)."""
