"""Erasure of one data subject (the right to be forgotten) by crypto-shredding.

``erase(store, subject, products)`` deletes the subject's data key in the key store (an
audited event that leaves a tombstone), then reports, for each product that may hold data
of that subject, what the erasure covered and what it did not:

- fields written with ``encrypt`` are unreadable everywhere from now on (every copy, in
  every port, backup and replay), because their only key is gone;
- other fields of the subject's records (the subject id itself, tokens, masked or
  generalized values, non-personal fields) still exist; deleting those rows by key is the
  job of each output port's retention or delete-by-key, which the report lists.

Tokens are not touched: token keys are shared by every subject, so a subject's tokens
stay as they were, and they remain (pseudonymous) personal data — anyone with the token
key can re-tokenize a known value, and a token links a person's records even without it.
Erasing a tokenized field means deleting the rows that hold it, by key in each port; the
report lists tokenized fields among those left to delete.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from meshkit.privacy.errors import PrivacyError
from meshkit.privacy.keys import Erasure, KeyStore

if TYPE_CHECKING:
    from meshkit.contracts import Contract


@dataclass(frozen=True)
class ProductHoldings:
    """What one product declares about a data subject's data (from its contract)."""

    product: str
    subject_field: str | None
    encrypted_fields: tuple[str, ...] = ()
    other_personal_fields: tuple[str, ...] = ()
    ports: tuple[str, ...] = ()

    @property
    def holds_subject_data(self) -> bool:
        return bool(self.subject_field or self.encrypted_fields)


@dataclass(frozen=True)
class ErasureReport:
    """The outcome of one erasure, ready to print or to store as evidence."""

    erasure: Erasure
    products: list[ProductHoldings] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_ref": self.erasure.key_ref,
            "erased_at": self.erasure.erased_at,
            "had_key": self.erasure.had_key,
            "already_erased": self.erasure.already_erased,
            "products": [
                {
                    "product": p.product,
                    "subject_field": p.subject_field,
                    "unreadable_fields": list(p.encrypted_fields),
                    "fields_left_to_delete_by_key": list(p.other_personal_fields),
                    "ports": list(p.ports),
                }
                for p in self.products
            ],
        }


def erase(
    store: KeyStore,
    subject: str,
    products: Iterable[ProductHoldings] = (),
    *,
    reason: str = "",
) -> ErasureReport:
    """Crypto-shred ``subject`` and report the products that hold data of that subject."""
    if not subject.strip():
        raise PrivacyError("erase: the subject id is empty")
    erasure = store.erase_subject(subject, reason=reason)
    holding = sorted((p for p in products if p.holds_subject_data), key=lambda p: p.product)
    return ErasureReport(erasure, holding)


def holdings_of(contract: Contract) -> ProductHoldings:
    """What a contract says about its data subjects: the subject field, encrypted fields,
    other personal fields still present in the output, and the output ports."""
    subjects = sorted({s for f in contract.field_index.values() if (s := contract.subject_of(f))})
    encrypted, other = [], []
    for path, f in contract.field_index.items():
        kind = f.transform.kind if f.transform is not None else None
        if kind == "encrypt":
            encrypted.append(path)
        elif f.pii is not None and kind != "drop":
            other.append(path)
    subject = contract.subject or (subjects[0] if subjects else None)
    ports = tuple(p.name_in(contract) for p in contract.ports.outputs)
    return ProductHoldings(contract.id, subject, tuple(encrypted), tuple(other), ports)


def load_holdings(directory: Path) -> list[ProductHoldings]:
    """``holdings_of`` every contract (``*.yaml``/``*.yml``) in a directory, recursively."""
    from meshkit.contracts import load_contract  # only here: erasure alone needs no contracts

    if not directory.is_dir():
        raise PrivacyError(f"{directory}: not a directory of contracts")
    paths = sorted([*directory.rglob("*.yaml"), *directory.rglob("*.yml")])
    return [holdings_of(load_contract(path)) for path in paths]
