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

    def __init__(self, message: str, *, remediation: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation


class ConfigError(MultiarchError):
    """A problem in package.yaml or in the build's arguments; names file, line and field."""

    category = FailureCategory.CONFIGURATION

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


class NetworkError(MultiarchError):
    category = FailureCategory.NETWORK

    def __init__(self, message: str, *, transient: bool = True, remediation: tuple[str, ...] = ()) -> None:
        super().__init__(message, remediation=remediation)
        self.transient = transient


class SecurityError(MultiarchError):
    """Checksum mismatch, unsafe archive entry, pin violation."""

    category = FailureCategory.SECURITY


class ArchitectureError(MultiarchError):
    """A binary whose ELF header does not match the target Debian architecture."""

    category = FailureCategory.ARCHITECTURE


class PackagingError(MultiarchError):
    """Broken archive, no binary found, dpkg/lintian trouble."""

    category = FailureCategory.PACKAGING


class ResourceError(MultiarchError):
    """Out of disk space or memory."""

    category = FailureCategory.RESOURCE


class PermissionDeniedError(MultiarchError):
    category = FailureCategory.PERMISSION


class DependencyError(MultiarchError):
    category = FailureCategory.DEPENDENCY
