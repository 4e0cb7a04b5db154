"""Errors that carry their failure category from where they are raised.

The categories are telemetry's (``telemetry.events.CATEGORIES``); nobody greps
our own messages to classify them.
"""

from __future__ import annotations


class MultiarchError(Exception):
    """Base of every error the builder raises on purpose."""

    category: str = "unknown"
    transient: bool = False

    def __init__(self, message: str, *, remediation: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation


class ConfigError(MultiarchError):
    """A problem in package.yaml or in the build's arguments; names file, line and field."""

    category = "configuration"

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
    category = "network"

    def __init__(self, message: str, *, transient: bool = True, remediation: tuple[str, ...] = ()) -> None:
        super().__init__(message, remediation=remediation)
        self.transient = transient


class SecurityError(MultiarchError):
    """Checksum mismatch, unsafe archive entry, pin violation."""

    category = "security"


class ArchitectureError(MultiarchError):
    """A binary whose ELF header does not match the target Debian architecture."""

    category = "architecture"


class PackagingError(MultiarchError):
    """Broken archive, no binary found, dpkg/lintian trouble."""

    category = "packaging"


class ResourceError(MultiarchError):
    """Out of disk space or memory."""

    category = "resource"


class PermissionDeniedError(MultiarchError):
    category = "permission"


class DependencyError(MultiarchError):
    category = "dependency"
