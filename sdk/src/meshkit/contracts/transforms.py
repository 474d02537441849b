"""The privacy declaration of a field: classification, PII category and transform.

A transform says what happens to a field's value before it leaves the domain. It is a
mapping with a ``kind``::

    transform: {kind: drop}                          # the field never leaves the domain
    transform: {kind: redact}                        # one constant ("[REDACTED]" or null)
    transform: {kind: mask, keep_last: 4}            # ******5678
    transform: {kind: mask, keep_email_domain: true} # ***@example.com
    transform: {kind: tokenize, key: customer}       # keyed hash (HMAC) under a named key
    transform: {kind: generalize, to: month}         # dates/timestamps: month or year
    transform: {kind: generalize, bucket: 10}        # numbers: lower bound of a bucket
    transform: {kind: generalize, to: ipv4_24}       # IP addresses: their network
    transform: {kind: generalize, prefix: 3}         # text: the first N characters
    transform: {kind: encrypt}                       # per data subject (crypto-shredding)

The privacy engine (``meshkit.privacy``) applies them; this module only declares them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from meshkit.contracts._base import ContractModel

Classification = Literal["public", "internal", "confidential", "restricted"]
PiiCategory = Literal[
    "email",
    "phone",
    "name",
    "address",
    "ip",
    "government_id",
    "payment_card",
    "date_of_birth",
    "free_text",
    "other",
]
REDACTED = "[REDACTED]"


class Drop(ContractModel):
    """Remove the field: it never leaves the domain."""

    kind: Literal["drop"] = Field(description="`drop`: the field is removed from every output.")


class Redact(ContractModel):
    """Replace every value with one constant."""

    kind: Literal["redact"] = Field(description="`redact`: every value becomes one constant.")
    value: str | int | float | bool | None = Field(
        default=None,
        description=f"The constant; when left out, `{REDACTED}` for strings and null otherwise.",
    )

    def constant(self, is_string: bool) -> str | int | float | bool | None:
        """The value that replaces every value of a field (``is_string``: a string field)."""
        if self.value is None and is_string:
            return REDACTED
        return self.value


class Mask(ContractModel):
    """Hide a text value in place, keeping its last characters or its e-mail domain."""

    kind: Literal["mask"] = Field(description="`mask`: hide characters of a text value.")
    keep_last: int | None = Field(
        default=None, ge=0, description="Keep the last N characters (e.g. 4 for a phone number)."
    )
    keep_email_domain: bool = Field(
        default=False, description="Keep the domain of an e-mail address (`***@example.com`)."
    )
    char: str = Field(
        default="*", min_length=1, max_length=1, description="The character that hides the rest."
    )

    @model_validator(mode="after")
    def _one_style(self) -> Mask:
        if (self.keep_last is None) == (not self.keep_email_domain):
            raise ValueError("mask needs exactly one of keep_last: N or keep_email_domain: true")
        return self


class Tokenize(ContractModel):
    """Replace the value with a keyed hash (HMAC) under a named key: joinable, not reversible."""

    kind: Literal["tokenize"] = Field(description="`tokenize`: a keyed hash of the value.")
    key: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="The name of the token key in the key store (e.g. `customer`).",
    )


class Generalize(ContractModel):
    """Replace the value with a coarser one that keeps analytic use."""

    kind: Literal["generalize"] = Field(description="`generalize`: a coarser value.")
    to: Literal["month", "year", "ipv4_24"] | None = Field(
        default=None,
        description=(
            "`month` or `year` for dates and timestamps (the first instant of the period); "
            "`ipv4_24` for IP addresses (the /24 network, /48 for IPv6)."
        ),
    )
    bucket: float | None = Field(
        default=None,
        gt=0,
        description="For numbers: the width of a bucket (the value becomes its lower bound).",
    )
    prefix: int | None = Field(
        default=None, ge=1, description="For text (e.g. postal codes): keep the first N characters."
    )

    @model_validator(mode="after")
    def _one_target(self) -> Generalize:
        given = [k for k in ("to", "bucket", "prefix") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("generalize needs exactly one of to:, bucket: or prefix:")
        return self


class Encrypt(ContractModel):
    """Encrypt the value under a key of its data subject (erasure deletes that key)."""

    kind: Literal["encrypt"] = Field(
        description="`encrypt`: encrypted per data subject (see the field or contract `subject`)."
    )


Transform = Annotated[
    Drop | Redact | Mask | Tokenize | Generalize | Encrypt, Field(discriminator="kind")
]
"""One of the transforms, chosen by its ``kind``."""
TRANSFORM_KINDS: tuple[str, ...] = ("drop", "redact", "mask", "tokenize", "generalize", "encrypt")
