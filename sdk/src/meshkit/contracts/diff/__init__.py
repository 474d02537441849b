"""The compatibility gate: what changed between two contracts, and whether it breaks consumers.

``diff_contracts(old, new)`` returns a ``DiffReport``: every ``Change`` classified as
breaking or compatible (``KINDS`` lists each kind with its reason), and the version
``gate`` (a breaking change needs a major bump; any change needs a version increase).
``diff_fields(old, new)`` compares two field lists alone (the ports compare a live table
with a contract this way). ``load_old`` reads the old side from a file or a git revision. See
``docs/contracts-tools.md`` for the full matrix.
"""

from meshkit.contracts.diff.catalogue import KINDS, ChangeKind
from meshkit.contracts.diff.compare import diff_contracts
from meshkit.contracts.diff.fields import compare_types, diff_fields
from meshkit.contracts.diff.report import Change, DiffReport, Gate, Version, version_gate

__all__ = [
    "KINDS",
    "Change",
    "ChangeKind",
    "DiffReport",
    "Gate",
    "Version",
    "compare_types",
    "diff_contracts",
    "diff_fields",
    "version_gate",
]
