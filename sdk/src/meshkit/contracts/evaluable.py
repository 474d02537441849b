"""Which quality rules a port can evaluate on the values it stores.

A port stores a field after its privacy transform, so a rule reading a field whose
transform changes the values cannot be evaluated on the port: a regex on a redacted
name, a range on a generalized date, anything on a dropped field. ``not_null`` and
``unique`` on a tokenized field stay evaluable: tokenization is deterministic (equal
values, equal tokens) and keeps nulls null.

:func:`hidden_fields` names the fields of a rule that a transform hides (a member of a
transformed struct counts as transformed); lint warns about each, and the batch checks
take the I/O manager's evaluation before the transform for such a rule, or report the
check skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from meshkit.contracts.quality import AcceptedValues, NotNull, QualityRule, Range, Regex, Unique

if TYPE_CHECKING:
    from meshkit.contracts.model import Contract

#: How each transform leaves a field's stored values, for messages.
STORED_AS = {
    "drop": "dropped (not stored at all)",
    "redact": "redacted",
    "mask": "masked",
    "tokenize": "tokenized",
    "generalize": "generalized",
    "encrypt": "encrypted",
}


@dataclass(frozen=True)
class HiddenField:
    """A field a rule reads whose stored values its transform changes."""

    path: str  #: the field path the rule names
    transform: str  #: the transform's kind (of the field, or of the struct holding it)
    at: tuple[str | int, ...]  #: where the rule names it: ``("field",)`` or ``("fields", i)``

    @property
    def stored_as(self) -> str:
        """``'email' is stored tokenized``."""
        return f"{self.path!r} is stored {STORED_AS.get(self.transform, self.transform)}"


def _transform_of(contract: Contract, path: str) -> str | None:
    parts = path.split(".")
    for i in range(1, len(parts) + 1):
        spec = contract.field(".".join(parts[:i]))
        if spec is not None and spec.transform is not None:
            return spec.transform.kind
    return None


def hidden_fields(contract: Contract, rule: QualityRule) -> list[HiddenField]:
    """The fields ``rule`` reads that no port can evaluate it on (empty: evaluable)."""
    named: list[tuple[str, tuple[str | int, ...]]] = []
    if isinstance(rule, Unique):
        named = [(f, ("fields", i)) for i, f in enumerate(rule.fields)]
    elif isinstance(rule, NotNull | AcceptedValues | Range | Regex):
        named = [(rule.field, ("field",))]
    out = []
    for path, at in named:
        kind = _transform_of(contract, path)
        if kind is None or (kind == "tokenize" and isinstance(rule, NotNull | Unique)):
            continue
        out.append(HiddenField(path, kind, at))
    return out
