"""Value-level detectors of personal data, each with a checksum or a structural rule.

``detect(value, field_name)`` returns the category of one value, or ``None``. Categories
use the contract's PII vocabulary where one fits (``email``, ``phone``, ``payment_card``,
``ip``, ``date_of_birth``, ``government_id``) plus ``iban``; ``detail`` names the exact
kind (``us_ssn``, ``nl_bsn``...). The rules, chosen so that look-alikes are not reported:

- e-mail: ``local@domain.tld`` with a letter TLD of 2+ characters; not image names such
  as ``icon@2x.png``; not an already masked local part (``***@example.com``).
- phone: the ``phonenumbers`` library must call it a *valid* number, and the text must
  look written as a phone number (a leading ``+``/``00``, or separators or brackets):
  a bare run of digits is more often an order number than a phone.
- payment card: 13-19 digits (spaces or dashes between groups allowed), a known issuer
  range (IIN) with a length that issuer uses, and the Luhn checksum.
- IBAN: a country with its fixed IBAN length and the ISO 7064 mod-97 checksum.
- IP: IPv4 dotted quads and IPv6 (``ipaddress``); not in fields named like versions.
- national identifiers: US SSN written ``AAA-GG-SSSS`` (no area 000/666/9xx, group 00
  or serial 0000); UK National Insurance number (prefix and suffix letter rules);
  Dutch BSN (9 digits, 11-proof) and German tax id (11 digits, digit-repetition rule,
  ISO 7064 mod 11,10) only in a field whose name says so, since any 9 or 11 digit
  number passes those checksums one time in ten or eleven.
- date of birth: a real calendar date without a time of day, in ISO, European, US or
  written-month form, with an age between 0 and 120 years when the field's name says
  birth (``dob``, ``birth``, ``born``, ``geboorte``, ``geburt``...), or between 16 and
  100 years when the name says nothing either way. Never in a field named like an
  event (``created``, ``order``, ``shipped``, ``_at``, ``_on``, ``expiry``...).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import date, datetime

import phonenumbers

EMAIL = "email"
PHONE = "phone"
PAYMENT_CARD = "payment_card"
IBAN = "iban"
IP = "ip"
GOVERNMENT_ID = "government_id"
DATE_OF_BIRTH = "date_of_birth"
STRUCTURED = (EMAIL, PHONE, PAYMENT_CARD, IBAN, IP, GOVERNMENT_ID, DATE_OF_BIRTH)


@dataclass(frozen=True)
class Detection:
    category: str
    detail: str


_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+"
    r"([A-Za-z]{2,24})$"
)
_FILE_EXT = {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "js", "css"}
_PHONE_SHAPE = re.compile(r"^(?:\+|00)?[\d\s().\-/]{6,24}$")
_CARD_SHAPE = re.compile(r"^\d{4}(?:[ -]?\d{1,7}){1,4}$|^\d{13,19}$")
_IBAN_SHAPE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
_SSN = re.compile(r"^(\d{3})-(\d{2})-(\d{4})$")
_NINO = re.compile(r"^([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]$")
_NINO_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
_HINT_BSN = re.compile(r"bsn|burgerservice|sofi", re.I)
_HINT_DE_TAX = re.compile(r"steuer|tax_?id|idnr|tin\b|tin_", re.I)
_HINT_BIRTH = re.compile(r"birth|dob|born|bday|geboorte|geburt|naissance|nacimiento", re.I)
_HINT_EVENT = re.compile(
    r"creat|updat|modif|order|ship|deliver|paid|payment|invoice|expir|valid|start|end|"
    r"event|signup|join|login|seen|(^|_)at$|_on$|_ts$|time|due|booked|issued",
    re.I,
)
_HINT_VERSION = re.compile(r"version|release|build", re.I)
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
            ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
            ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for m in names
}  # fmt: skip
_DATE_NUMERIC = re.compile(r"^(\d{1,4})([-/.])(\d{1,2})\2(\d{1,4})$")
_DATE_WORDS_DMY = re.compile(r"^(\d{1,2})\s+([A-Za-z]+)\.?,?\s+(\d{4})$")
_DATE_WORDS_MDY = re.compile(r"^([A-Za-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21,
    "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "MC": 27, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24,
    "SI": 19, "SK": 24, "SM": 27, "TR": 26, "AE": 23, "SA": 24, "IL": 23, "BR": 29,
}  # fmt: skip
_NO_REGION: tuple[str | None, ...] = (None,)
_TRUNK_REGIONS: tuple[str | None, ...] = ("GB", "NL", "DE", "FR", "BE", "IT", "ES")
_NATIONAL_SEP = re.compile(r"[\s()\-]")


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_issuer(digits: str) -> str | None:
    """The issuer whose IIN range and lengths fit ``digits``, else ``None``."""
    n = len(digits)
    p2, p4, p6 = int(digits[:2]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= int(digits[:3]) <= 649 or p2 == 65) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= int(digits[:3]) <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if p6 in range(560000, 700000) and p2 in (56, 57, 58, 63, 67) and 12 <= n <= 19:
        return "maestro"
    return None


def iban_ok(text: str) -> bool:
    s = text.replace(" ", "").upper()
    if not _IBAN_SHAPE.match(s) or _IBAN_LENGTHS.get(s[:2]) != len(s):
        return False
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def bsn_ok(digits: str) -> bool:
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True))
    return (total - int(digits[8])) % 11 == 0


def de_tax_id_ok(digits: str) -> bool:
    if len(digits) != 11 or not digits.isdigit() or digits[0] == "0":
        return False
    counts = sorted((digits[:10].count(d) for d in set(digits[:10])), reverse=True)
    if counts[0] not in (2, 3) or (counts[1:] and counts[1] != 1):
        return False
    product = 10
    for ch in digits[:10]:
        s = (int(ch) + product) % 10 or 10
        product = (s * 2) % 11
    check = 11 - product
    return (0 if check == 10 else check) == int(digits[10])


def _ssn_ok(text: str) -> bool:
    m = _SSN.match(text)
    if not m:
        return False
    area, group, serial = m.groups()
    return (
        area not in ("000", "666")
        and not area.startswith("9")
        and group != "00"
        and serial != "0000"
        and text not in ("078-05-1120", "219-09-9999")
    )


def _nino_ok(text: str) -> bool:
    m = _NINO.match(text.upper())
    return m is not None and m.group(1) not in _NINO_BAD_PREFIX


def _is_email(s: str) -> bool:
    m = _EMAIL.match(s)
    if not m or m.group(1).lower() in _FILE_EXT:
        return False
    local = s.rpartition("@")[0]
    return set(local) != {"*"} and set(local) != {"x"}


def _is_phone(s: str) -> bool:
    if not _PHONE_SHAPE.match(s) or _SSN.match(s):
        return False
    digits = sum(c.isdigit() for c in s)
    if s.startswith(("+", "00")):
        if not 8 <= digits <= 15:
            return False
        text, regions = "+" + s[2:] if s.startswith("00") else s, _NO_REGION
    else:
        # Written nationally: separators or brackets, no dots or slashes (versions, dates,
        # amounts), and either a trunk prefix 0 (Europe) or ten digits (North America).
        if not _NATIONAL_SEP.search(s) or "." in s or "/" in s or not 9 <= digits <= 11:
            return False
        first = s.lstrip("(")[:1]
        if first == "0":
            text, regions = s, _TRUNK_REGIONS
        elif digits == 10:
            text, regions = s, ("US",)
        else:
            return False
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def _card(s: str) -> str | None:
    if not _CARD_SHAPE.match(s):
        return None
    digits = s.replace(" ", "").replace("-", "")
    if not 12 <= len(digits) <= 19:
        return None
    issuer = card_issuer(digits)
    return issuer if issuer and luhn_ok(digits) else None


def parse_date(s: str) -> date | None:
    """A calendar date written in a common format (no time of day), else ``None``."""
    m = _DATE_NUMERIC.match(s)
    try:
        if m:
            a, sep, b, c = m.groups()
            if len(a) == 4:  # 1985-03-12, 1985/03/12
                return date(int(a), int(b), int(c))
            if len(c) == 4:  # 12.03.1985 or 12/03/1985 (day first), else 03/12/1985 (US)
                if int(a) > 12 or sep in ".-":
                    return date(int(c), int(b), int(a))
                return date(int(c), int(a), int(b))
            return None
        m = _DATE_WORDS_DMY.match(s)
        if m and m.group(2).lower() in _MONTHS:
            return date(int(m.group(3)), _MONTHS[m.group(2).lower()], int(m.group(1)))
        m = _DATE_WORDS_MDY.match(s)
        if m and m.group(1).lower() in _MONTHS:
            return date(int(m.group(3)), _MONTHS[m.group(1).lower()], int(m.group(2)))
    except ValueError:
        return None
    return None


def _age(born: date, today: date) -> float:
    return (today - born).days / 365.25


def is_birth_date(d: date, field: str, today: date | None = None) -> bool:
    """Whether a date is plausibly a birth date, given the field's name (see module doc)."""
    today = today or date.today()
    if field and _HINT_EVENT.search(field) and not _HINT_BIRTH.search(field):
        return False
    age = _age(d, today)
    if field and _HINT_BIRTH.search(field):
        return 0 <= age <= 120
    return 16 <= age <= 100


def detect(value: object, field: str = "", today: date | None = None) -> Detection | None:
    """The personal-data category of one value, or ``None`` (see the module doc)."""
    if isinstance(value, datetime):
        return None
    if isinstance(value, date):
        return Detection(DATE_OF_BIRTH, "date") if is_birth_date(value, field, today) else None
    if not isinstance(value, str):
        return None
    s = value.strip()
    if len(s) < 5 or len(s) > 254:
        return None
    if "@" in s:
        return Detection(EMAIL, "email") if _is_email(s) else None
    if ("." in s or ":" in s) and not _HINT_VERSION.search(field):
        try:
            ip = ipaddress.ip_address(s)
        except ValueError:
            pass
        else:
            return Detection(IP, f"ipv{ip.version}")
    if s[:2].isalpha() and iban_ok(s):
        return Detection(IBAN, "iban")
    if _ssn_ok(s):
        return Detection(GOVERNMENT_ID, "us_ssn")
    if s[:1].isalpha() and _nino_ok(s):
        return Detection(GOVERNMENT_ID, "uk_nino")
    compact = s.replace(" ", "").replace("-", "").replace(".", "")
    if compact.isdigit():
        if _HINT_BSN.search(field) and bsn_ok(compact):
            return Detection(GOVERNMENT_ID, "nl_bsn")
        if _HINT_DE_TAX.search(field) and de_tax_id_ok(compact):
            return Detection(GOVERNMENT_ID, "de_tax_id")
    issuer = _card(s)
    if issuer:
        return Detection(PAYMENT_CARD, issuer)
    d = parse_date(s)
    if d is not None:
        return Detection(DATE_OF_BIRTH, "date") if is_birth_date(d, field, today) else None
    if _is_phone(s):
        return Detection(PHONE, "phone")
    return None
