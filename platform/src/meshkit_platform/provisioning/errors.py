"""Errors of provisioning; the command line turns each into one line and exit code 1.

::

    MeshkitError (meshkit.errors)
    └── ProvisioningError        bad desired state, or a change the plan cannot make
        ├── StalePlanError       the live state changed since the plan was made
        ├── DestroyRefusedError  a delete of data-holding resources not named by a flag
        └── ApplyError           a change failed; carries what was and was not applied
"""

from __future__ import annotations

from meshkit.errors import MeshkitError


class ProvisioningError(MeshkitError):
    """Desired state that cannot be provisioned (named with its file and the live side)."""


class StalePlanError(ProvisioningError):
    """The plan was made from a live state that no longer holds."""


class DestroyRefusedError(ProvisioningError):
    """The plan deletes data-holding resources that no ``--allow-delete`` names."""


class ApplyError(ProvisioningError):
    """A change failed: ``applied`` lists what was done before it, ``pending`` what was not."""

    def __init__(self, message: str, applied: list[str], pending: list[str]) -> None:
        super().__init__(message)
        self.applied = applied
        self.pending = pending
