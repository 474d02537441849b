"""Generalizing transforms: coarser values that keep analytic use.

- dates and timestamps to the first instant of their month or year (timestamps in UTC:
  an aware timestamp is converted to UTC first, so the result does not depend on the
  writer's time zone; naive timestamps are taken as UTC);
- numbers to the lower bound of a fixed-width bucket (``37 → 30`` with width 10);
- IP addresses to their network (IPv4 ``/24`` and IPv6 ``/48`` by default);
- postal codes to a prefix of N characters (after trimming ASCII whitespace).

Same two faces as ``meshkit.privacy.mask``: ``value`` and ``array``, identical results.
"""

from __future__ import annotations

import ipaddress
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from meshkit.privacy.errors import PrivacyError
from meshkit.privacy.mask import as_string_array, check_str

_ASCII_SPACE = " \t\n\v\f\r"


class TruncateTime:
    """A date or timestamp to the start of its ``month`` or ``year``."""

    def __init__(self, unit: str = "month") -> None:
        if unit not in {"month", "year"}:
            raise PrivacyError(f"generalize: unit must be 'month' or 'year', got {unit!r}")
        self.unit = unit

    def value(self, v: Any) -> Any:
        month = 1 if self.unit == "year" else None
        if type(v) is datetime:
            aware = v.tzinfo is not None
            u = v.astimezone(UTC) if aware else v
            return datetime(u.year, month or u.month, 1, tzinfo=UTC if aware else None)
        if type(v) is date:
            return date(v.year, month or v.month, 1)
        raise PrivacyError(f"generalize applies to dates and timestamps, got {type(v).__name__}")

    def array(self, a: pa.Array) -> pa.Array:
        t = a.type
        if pa.types.is_timestamp(t):
            if t.tz is not None:
                a = a.cast(pa.timestamp(t.unit, "UTC"))
            return pc.floor_temporal(a, unit=self.unit)
        if pa.types.is_date(t):
            return pc.floor_temporal(a, unit=self.unit)
        raise PrivacyError(f"generalize applies to dates and timestamps, but the column is {t}")


class Bucket:
    """A number to the lower bound of its bucket of ``width`` (``floor(x / w) * w``).

    Integers stay integers (exact), floats stay floats (NaN and infinities unchanged),
    decimals stay decimals.
    """

    def __init__(self, width: float) -> None:
        if not width > 0:
            raise PrivacyError(f"generalize: bucket width must be positive, got {width}")
        self.width = width

    def value(self, v: Any) -> Any:
        w = self.width
        if type(v) is int:
            return (v // int(w)) * int(w) if float(w).is_integer() else self._float(float(v))
        if type(v) is float:
            return self._float(v)
        if type(v) is Decimal:
            dw = Decimal(str(w))
            return (v / dw).to_integral_value(rounding="ROUND_FLOOR") * dw
        raise PrivacyError(f"generalize (bucket) applies to numbers, got {type(v).__name__}")

    def _float(self, v: float) -> float:
        if not math.isfinite(v):
            return v
        q = v / self.width
        return (float(math.floor(q)) if math.isfinite(q) else q) * self.width

    def array(self, a: pa.Array) -> pa.Array:
        t = a.type
        if pa.types.is_integer(t) and float(self.width).is_integer():
            w = pa.scalar(int(self.width), t)
            trunc = pc.divide(a, w)  # integer division truncates toward zero
            rest = pc.subtract(a, pc.multiply(trunc, w))
            floor = pc.if_else(pc.less(rest, pa.scalar(0, t)), pc.subtract(trunc, 1), trunc)
            return pc.multiply(floor, w)
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            f = pc.cast(a, pa.float64())
            out = pc.multiply(pc.floor(pc.divide(f, self.width)), self.width)
            return pc.if_else(pc.is_finite(f), out, f)
        if pa.types.is_decimal(t):
            return pa.array([None if x is None else self.value(x) for x in a.to_pylist()], t)
        raise PrivacyError(f"generalize (bucket) applies to numbers, but the column is {t}")


class IpPrefix:
    """An IP address to its network address (``192.0.2.77 → 192.0.2.0``)."""

    def __init__(self, ipv4_prefix: int = 24, ipv6_prefix: int = 48) -> None:
        self.v4 = ipv4_prefix
        self.v6 = ipv6_prefix

    def value(self, v: Any) -> Any:
        s = check_str(v, "generalize (ip)")
        try:
            ip = ipaddress.ip_address(s.strip())
        except ValueError:
            raise PrivacyError("generalize (ip): text is not an IP address") from None
        prefix = self.v4 if ip.version == 4 else self.v6
        return str(ipaddress.ip_network((ip, prefix), strict=False).network_address)

    def array(self, a: pa.Array) -> pa.Array:
        s = as_string_array(a, "generalize (ip)")
        # Addresses repeat a lot; transform each distinct value once.
        encoded = pc.dictionary_encode(s)
        uniques = encoded.dictionary.to_pylist()
        mapped = pa.array([self.value(u) for u in uniques], pa.string())
        return mapped.take(encoded.indices)


class PostalPrefix:
    """A postal code to its first ``n`` characters, after trimming ASCII whitespace."""

    def __init__(self, n: int = 3) -> None:
        self.n = n

    def value(self, v: Any) -> Any:
        return check_str(v, "generalize (postal code)").strip(_ASCII_SPACE)[: self.n]

    def array(self, a: pa.Array) -> pa.Array:
        s = as_string_array(a, "generalize (postal code)")
        return pc.utf8_slice_codeunits(pc.ascii_trim_whitespace(s), 0, self.n)
