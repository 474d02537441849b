"""Exceptions raised by meshkit.

The hierarchy::

    MeshkitError                  base of every error meshkit raises on purpose
    ├── ConfigError               bad configuration or environment (what to set, where)
    ├── ServiceError              an embedded or remote service failed to start or answer
    └── ContractError             a contract could not be loaded (carries the problems)

The CLI catches ``MeshkitError`` and prints its message without a traceback, exiting 1.
"""

from __future__ import annotations


class MeshkitError(Exception):
    """Base of every error meshkit raises on purpose; its message is meant for a person."""


class ConfigError(MeshkitError):
    """Bad configuration or environment; the message says what to set and where."""


class ServiceError(MeshkitError):
    """An embedded or remote service failed to start, answer, or stop."""


class ContractError(MeshkitError):
    """A contract could not be loaded; ``problems`` lists each one with its location."""

    def __init__(self, message: str, problems: list[object] | None = None) -> None:
        super().__init__(message)
        self.problems: list[object] = list(problems or [])
