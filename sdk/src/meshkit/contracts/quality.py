"""Quality rules and service-level objectives of a contract.

Quality rules are a list of mappings with a ``kind``; per-record rules (``not_null``,
``accepted_values``, ``range``, ``regex``) are also enforced by the runtime validator,
the others become batch checks (asset checks)::

    quality:
      - {kind: not_null, field: email}
      - {kind: unique, fields: [customer_id]}
      - {kind: accepted_values, field: tier, values: [free, plus, pro]}
      - {kind: range, field: age, min: 0, max: 130}
      - {kind: regex, field: country, pattern: "^[A-Z]{2}$"}
      - {kind: row_count, min: 1}
      - {kind: freshness, max_age: 1h}
      - {kind: custom_sql, name: no_future_signups, sql: "select * from {table} where ..."}
"""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from meshkit.contracts._base import ContractModel
from meshkit.contracts.regex import PatternError, compile_pattern
from meshkit.contracts.sql import rule_problem
from meshkit.contracts.types import Duration

Scalar = str | int | float | bool
Bound = int | float | Decimal | datetime | date | str
FieldPath = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$",
        description="A field name; members of a struct as `address.city`.",
    ),
]


class _Rule(ContractModel):
    name: str | None = Field(
        default=None, description="A name for the rule (shown in check results); optional."
    )
    severity: Literal["error", "warn"] = Field(
        default="error", description="`error` fails the check; `warn` only reports."
    )
    description: str | None = Field(default=None, description="What the rule protects.")


class NotNull(_Rule):
    """The field is never null."""

    kind: Literal["not_null"] = Field(description="`not_null`: the field is never null.")
    field: FieldPath = Field(description="The field that must not be null.")


class Unique(_Rule):
    """No two rows share the same values of ``fields``."""

    kind: Literal["unique"] = Field(description="`unique`: no duplicate values (combined).")
    fields: tuple[FieldPath, ...] = Field(
        min_length=1, description="The fields whose combined values are unique."
    )


class AcceptedValues(_Rule):
    """The field holds one of a fixed set of values (nulls are allowed unless not_null)."""

    kind: Literal["accepted_values"] = Field(description="`accepted_values`: a closed set.")
    field: FieldPath = Field(description="The field checked.")
    values: tuple[Scalar, ...] = Field(min_length=1, description="The values accepted.")

    @field_validator("values")
    @classmethod
    def _finite(cls, values: tuple[Scalar, ...]) -> tuple[Scalar, ...]:
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ValueError(
                "an accepted value is not a finite number (.inf or .nan): nothing "
                "compares equal to NaN, and a float field holds no infinity"
            )
        return values


class Range(_Rule):
    """The field lies within ``min``..``max`` (both inclusive; either may be left out)."""

    kind: Literal["range"] = Field(description="`range`: lower and/or upper bound, inclusive.")
    field: FieldPath = Field(description="The field checked (a number, date, timestamp or text).")
    min: Bound | None = Field(default=None, description="The lowest value allowed.")
    max: Bound | None = Field(default=None, description="The highest value allowed.")

    @field_validator("min", "max")
    @classmethod
    def _finite(cls, value: Bound | None) -> Bound | None:
        if isinstance(value, float | Decimal) and not math.isfinite(value):
            raise ValueError(
                f"the bound {value} is not a finite number: an infinite bound is no bound "
                "(leave min: or max: out), and nothing compares with NaN"
            )
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Range:
        if self.min is None and self.max is None:
            raise ValueError("range needs min:, max: or both")
        return self


class Regex(_Rule):
    """Every non-null value matches the regular expression (RE2 syntax, full match).

    RE2 is the engine of DuckDB, BigQuery and the streaming path alike, so a pattern
    means the same everywhere and runs in time linear in the value's length; patterns
    RE2 cannot run (look-around, back-references) are refused.
    """

    kind: Literal["regex"] = Field(description="`regex`: text values match a pattern.")
    field: FieldPath = Field(description="The text field checked.")
    pattern: str = Field(description="An RE2 regular expression that the whole value matches.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compile_pattern(value)
        except PatternError as exc:
            raise ValueError(str(exc)) from None
        return value


class RowCount(_Rule):
    """The number of rows lies within ``min``..``max``."""

    kind: Literal["row_count"] = Field(description="`row_count`: bounds on the number of rows.")
    min: int | None = Field(default=None, ge=0, description="The fewest rows allowed.")
    max: int | None = Field(default=None, ge=0, description="The most rows allowed.")

    @model_validator(mode="after")
    def _bounds(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("row_count needs min:, max: or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("row_count min is greater than max")
        return self


class Freshness(_Rule):
    """The newest row is at most ``max_age`` old (by ``field``, default the event time)."""

    kind: Literal["freshness"] = Field(description="`freshness`: the newest row is recent.")
    field: FieldPath | None = Field(
        default=None, description="A date or timestamp field; default the contract's event_time."
    )
    max_age: Duration = Field(description="How old the newest row may be, e.g. `1h`.")


class CustomSql(_Rule):
    """A SQL query returning the rows that break the rule; the check passes when it returns none.

    ``{table}`` in the query stands for the product's warehouse table. The query is exactly
    one read-only ``SELECT`` (``WITH ... SELECT`` and ``UNION`` of selects too) that parses
    in both warehouse dialects, DuckDB and BigQuery, to the same query (so no double
    quotes, a name in one and text in the other): several statements, any other
    statement, ``SELECT ... INTO``, ``FOR UPDATE`` and table functions that read files or
    other databases (``read_csv``, ``EXTERNAL_QUERY``, ...) are refused. The check runs it
    on a connection that cannot write.
    """

    kind: Literal["custom_sql"] = Field(description="`custom_sql`: a query for failing rows.")
    name: str = Field(description="A name for the rule (required for custom SQL).")
    sql: str = Field(
        min_length=1,
        description="One read-only SELECT returning failing rows; `{table}` is the product table.",
    )

    @field_validator("sql")
    @classmethod
    def _one_select(cls, value: str) -> str:
        problem = rule_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value


QualityRule = Annotated[
    NotNull | Unique | AcceptedValues | Range | Regex | RowCount | Freshness | CustomSql,
    Field(discriminator="kind"),
]
"""One quality rule, chosen by its ``kind``."""
PER_RECORD_RULES: tuple[type[_Rule], ...] = (NotNull, AcceptedValues, Range, Regex)


class Slo(ContractModel):
    """Service-level objectives the platform measures and reports in the catalog."""

    freshness: Duration | None = Field(
        default=None, description="Data is at most this old (end to end), e.g. `15m`."
    )
    completeness: float | None = Field(
        default=None, gt=0, le=1, description="Share of source records delivered, e.g. 0.999."
    )
    availability: float | None = Field(
        default=None, gt=0, le=1, description="Share of time the output ports answer, e.g. 0.995."
    )
