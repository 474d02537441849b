"""Detectors of personal data, each with a checksum or a structural rule, in context.

``detect(value, field_name)`` returns the category of one whole value, or ``None``;
``find_all(text, field_name)`` every piece of personal data in a text (the whole text,
or what is found inside it, with spans); ``scan(value, field_name)`` the first of
either. Categories use the contract's PII vocabulary where one fits (``email``,
``phone``, ``payment_card``, ``ip``, ``date_of_birth``, ``government_id``) plus
``iban``; ``detail`` names the exact kind (``us_ssn``, ``nl_bsn``...).

Context is the field's name, and inside text also the few words just before a
candidate: *phone* (``phone``, ``tel``, ``mobile`` / ``call``, ``whatsapp``, ``get in
touch``...), *SSN* (``ssn``, ``tin``, ``tax_id``, ``taxpayer`` / ``SSN``, ``social
security``, ``TIN``, ``tax id``...), *BSN*, *German tax id*, *birth* (``dob``, ``birth``,
``born``...), *event* (``created``, ``order``, ``_at``, ``_since``, ``published`` /
``since``, ``on``, ``shipped``, ``due``...), *version*, and *not personal* (``order``,
``sku``, ``ean``, ``tracking``, ``invoice``, ``ticket``, ``reference`` / ``order``,
``SKU``, ``ticket``, ``version``, ``upgrade to``, ``no.``...). Inside text a not-personal
word names the number right after it: not one after another number (``(no. 12) on
+49...``), nor one after a word naming personal data (``social security no.``, ``phone
nr``). A not-personal field name says what a whole value is, but in a free text only
what the text is about: there it hides bare runs of digits and IP addresses, not a card
or phone number written with separators or a ``+``, nor a bare run after a word naming
personal data (``card``, ``call``, ``SSN``...). The rules, chosen so that look-alikes
are not reported:

- e-mail: ``local@domain.tld`` with a letter TLD of 2+ characters, letters of any
  script; not image names such as ``icon@2x.png``; not a masked local part (one with a
  ``*``, such as ``j***@example.com``, or ``xxx@example.com``): a masked address no
  longer reaches anyone; inside text not ``user@host:path``.
- phone: the ``phonenumbers`` library must call it a *valid* number (or, written with
  ``+`` and a country code, give it the full length of that country's numbers), and the
  text must look written as a phone number: a leading ``+``/``00``, or separators or
  brackets in the groups phone numbers take. Dots between groups of two digits or more,
  a slash once after the area code (``415.555.2671``, ``06.12.34.56.78``,
  ``0151/23456789``, ``0471/23.45.67``); North American numbers grouped 3-3-4; with a
  trunk ``0``, a first group holding the whole area code (``089-1234567``, not
  ``08-9123-4567``) and French numbers in pairs. A bare run of digits only in phone
  context: elsewhere it is more often an order number than a phone. Never in
  not-personal context.
- payment card: 13-19 digits (spaces or dashes between groups allowed), a known issuer
  range (IIN) with a length that issuer uses, and the Luhn checksum; never in
  not-personal context.
- IBAN: a country with its fixed IBAN length and the ISO 7064 mod-97 checksum.
- IP: IPv4 dotted quads and IPv6 (``ipaddress``); not in version context.
- national identifiers: US SSN written ``AAA-GG-SSSS`` (no area 000/666/9xx, group 00
  or serial 0000), with spaces or no separators in SSN context; UK National Insurance
  number (prefix and suffix letter rules); Dutch BSN (9 digits, 11-proof) and German tax
  id (11 digits, digit-repetition rule, ISO 7064 mod 11,10) only in their context, since
  any 9 or 11 digit number passes those checksums one time in ten or eleven.
- date of birth: a real calendar date without a time of day, in ISO, European, US or
  written-month form (in birth context also ``3/12/85``, the latest such date not after
  today, and ``19850312``), with an age between 0 and 120 years in birth context, or
  between 16 and 100 years when the context says nothing either way. Never in event
  context (a field named ``*_since``, ``*_published``, ``created``, ``release_date``...).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace
from datetime import date, datetime
from functools import lru_cache

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
    r"^[\w.!#$%&'*+/=?^`{|}~-]+@(?:[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?\.)+([^\W\d_]{2,24})$"
)
_FILE_EXT = {"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "pdf", "js", "css"}
_PHONE_SHAPE = re.compile(r"^(?:\+|00)?[\d\s().\-/]{6,24}$")
# Dots and a slash as phone numbers use them: a slash once, after the area code
# (``0151/23456789``, ``0471/23.45.67``), dots between groups of two digits or more
# (``06.12.34.56.78``, ``415.555.2671``); not the shapes of versions, dates or amounts.
_PHONE_DOTS_SLASH = re.compile(r"^\(?\d{2,5}\)?(?:\s?/\s?|\.)\d{2,}(?:[. ]\d{2,})*$")
_GROUPS = re.compile(r"\d+")
# North American numbers are written in groups of 3, 3 and 4 digits (``(415) 555-2671``,
# ``1-415-555-2671``), or as one run.
_NANP_GROUPS = {(3, 3, 4), (1, 3, 3, 4), (3, 7), (10,), (11,)}
_CARD_SHAPE = re.compile(r"^\d{4}(?:[ -]?\d{1,7}){1,4}$|^\d{13,19}$")
_IBAN_SHAPE = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{10,30}$")
_SSN = re.compile(r"^(\d{3})-(\d{2})-(\d{4})$")
_SSN_LOOSE = re.compile(r"^(\d{3})([ -]?)(\d{2})\2(\d{4})$")
_NINO = re.compile(r"^([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]$")
_NINO_BAD_PREFIX = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
_HINT_BSN = re.compile(r"bsn|burgerservice|sofi", re.I)
_TIN = r"(^|_)i?tins?(_|$)|tax_?id|tax_?payer"  # taxpayer identification number
_HINT_DE_TAX = re.compile(rf"steuer|idnr|{_TIN}", re.I)
_HINT_BIRTH = re.compile(r"birth|dob|born|bday|geboorte|geburt|naissance|nacimiento", re.I)
_HINT_EVENT = re.compile(
    r"creat|updat|modif|order|ship|deliver|paid|payment|invoice|expir|valid|start|end|"
    r"event|signup|join|login|seen|(^|_)at$|_on$|_ts$|time|due|booked|issued|since|publish|"
    r"releas|launch|effective|regist|renew|opened|closed",
    re.I,
)
_HINT_VERSION = re.compile(r"version|release|build", re.I)
_HINT_PHONE = re.compile(
    r"phone|(^|_)tel(e|_|$)|mobil|(^|_)cell|gsm|fax|msisdn|whatsapp|handy|contact_?n(umbe)?r", re.I
)
_HINT_SSN = re.compile(rf"ssn|social_?security|{_TIN}", re.I)
_HINT_NOT_CARD = re.compile(
    r"order|sku|(^|_)ean|gtin|upc|isbn|barcode|tracking|invoice|artic|artikel|product|ticket|"
    r"shipment|parcel|post_?code|postal|zip|plz|(^|_)ref(_|$)|referen",
    re.I,
)
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
_TRUNK_REGIONS: tuple[str | None, ...] = (
    "GB", "NL", "DE", "FR", "BE", "IT", "ES", "AT", "CH", "IE",
)  # fmt: skip
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


def _ssn_ok(text: str, *, loose: bool = False) -> bool:
    """A US SSN by the issuance rules: ``AAA-GG-SSSS``, or (``loose``) with spaces or none."""
    m = _SSN_LOOSE.match(text) if loose else _SSN.match(text)
    if not m:
        return False
    area, group, serial = (m.group(1), m.group(3), m.group(4)) if loose else m.groups()
    text = f"{area}-{group}-{serial}"
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
    # A masked address (``j***@example.com``, ``xxx@example.com``) is no longer one.
    local = s.rpartition("@")[0]
    return "*" not in local and not (set(local) == {"x"} and len(local) > 1)


def _is_phone(s: str, *, hinted: bool = False) -> bool:
    """A valid phone number written like one (see the module doc); ``hinted``: the field's
    name or the words before it say phone, so a bare run of digits may be one."""
    if s.startswith("+"):
        s = s.replace("(0)", "", 1)
    if not _PHONE_SHAPE.match(s) or _SSN.match(s):
        return False
    digits = sum(c.isdigit() for c in s)
    if s.startswith(("+", "00")):
        if not 8 <= digits <= 15 or (s.isdigit() and not hinted):
            return False  # 00 and a bare run of digits: an order number as often as a phone
        text, regions = "+" + s[2:] if s.startswith("00") else s, _NO_REGION
    else:
        # Written nationally: separators or brackets (dots and slashes only in the shapes
        # phone numbers take, not those of versions, dates or amounts), or a bare run of
        # digits where the context says phone; then a trunk prefix 0 (Europe), ten digits
        # (North America), or eleven starting with the country code 1.
        if not 9 <= digits <= 12:
            return False
        if "." in s or "/" in s:
            if not _PHONE_DOTS_SLASH.match(s):
                return False
        elif not _NATIONAL_SEP.search(s) and not hinted:
            return False
        groups = _GROUPS.findall(s)
        first = groups[0][:1]
        if first == "0":
            return _national_trunk_phone(s, groups)
        if tuple(map(len, groups)) not in _NANP_GROUPS:
            return False
        if digits == 10:
            text, regions = s, ("US",)
        elif digits == 11 and first == "1":
            text, regions = "+" + s, _NO_REGION
        else:
            return False
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
        if region is None and _full_length(number):
            return True
    return False


def _national_trunk_phone(s: str, groups: list[str]) -> bool:
    """A number written nationally with a trunk prefix ``0``, valid in one of the
    countries that use one. A first separator may not split its area code (``089-1234567``
    is a Munich number, ``08-9123-4567`` a code), nor the first two digits of a mobile or
    other destination code (``06-12345678``, ``0151 2345678``)."""
    for region in _TRUNK_REGIONS:
        try:
            number = phonenumbers.parse(s, region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_valid_number(number):
            continue
        if len(groups) == 1:
            return True
        if region == "FR" and any(len(g) != 2 for g in groups):
            continue  # France writes its numbers in pairs; ``01-3624-8071`` is a code
        # the trunk prefix (when the number drops it) and the area or destination code
        national = phonenumbers.national_significant_number(number)
        area = phonenumbers.length_of_geographical_area_code(number)
        code = area or min(phonenumbers.length_of_national_destination_code(number), 2)
        head = sum(map(len, groups)) - len(national) + code
        if len(groups[0]) >= head:
            return True
    # France gives the whole 06 and 07 blocks to mobiles: written in its pairs, such a
    # number is a phone even where the range is newer than the library's metadata.
    return len(groups) == 5 and groups[0] in ("06", "07") and all(len(g) == 2 for g in groups)


def _full_length(number: phonenumbers.PhoneNumber) -> bool:
    """A number written with its country code whose national part has the length of that
    country's mobile or fixed-line numbers: a phone number even where the range is newer
    than the ``phonenumbers`` metadata (or not allocated yet)."""
    if number.country_code is None:
        return False
    region = phonenumbers.region_code_for_country_code(number.country_code)
    if region in (None, "ZZ", "001"):
        return False
    length = len(phonenumbers.national_significant_number(number))
    for kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE):
        example = phonenumbers.example_number_for_type(region, kind)
        if example is not None and len(phonenumbers.national_significant_number(example)) == length:
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


def parse_date(s: str, *, short: bool = False, today: date | None = None) -> date | None:
    """A calendar date written in a common format (no time of day), else ``None``.

    ``short`` also reads a two-digit year (``3/12/85``: the latest such date not after
    ``today``) and ``YYYYMMDD`` (``19850312``), forms that are dates only in context.
    """
    m = _DATE_NUMERIC.match(s)
    try:
        if m:
            a, sep, b, c = m.groups()
            if len(a) == 4:  # 1985-03-12, 1985/03/12
                return date(int(a), int(b), int(c))
            if len(c) == 4:
                year = int(c)
            elif len(c) == 2 and short and len(a) <= 2:
                year = 2000 + int(c)
            else:
                return None
            # 12.03.1985 or 12/03/1985 (day first), else 03/12/1985 (US)
            month, day = (int(b), int(a)) if int(a) > 12 or sep in ".-" else (int(a), int(b))
            if len(c) == 2 and date(year, month, day) > (today or date.today()):
                year -= 100  # the latest such date not after today
            return date(year, month, day)
        if short and len(s) == 8 and s.isdigit() and s[:2] in ("19", "20"):
            return date(int(s[:4]), int(s[4:6]), int(s[6:]))
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
    """The personal-data category of one whole value, or ``None`` (see the module doc)."""
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
    return _detect_text(s, today, _field_context(field))


@dataclass(frozen=True)
class _Context:
    """What the field's name, or the words just before a value in a text, say about it."""

    birth: bool = False
    event: bool = False
    phone: bool = False
    ssn: bool = False
    bsn: bool = False
    de_tax: bool = False
    version: bool = False
    not_personal: bool = False  # an order number, SKU, ticket, tracking id, build...
    # Inside the text of a field named like something not personal (``support_ticket``,
    # ``order_notes``): the name says what the text is about, not what each number in it
    # is, so only a bare run of digits is taken as not personal there.
    bare_not_personal: bool = False


@lru_cache(maxsize=4096)
def _field_context(field: str) -> _Context:
    if not field:
        return _Context()
    ctx = _Context(
        birth=bool(_HINT_BIRTH.search(field)),
        event=bool(_HINT_EVENT.search(field)),
        phone=bool(_HINT_PHONE.search(field)),
        ssn=bool(_HINT_SSN.search(field)),
        bsn=bool(_HINT_BSN.search(field)),
        de_tax=bool(_HINT_DE_TAX.search(field)),
        version=bool(_HINT_VERSION.search(field)),
    )
    # A name saying what personal data it holds wins (``order_contact_phone``).
    personal = ctx.birth or ctx.phone or ctx.ssn or ctx.bsn or ctx.de_tax
    return replace(ctx, not_personal=not personal and bool(_HINT_NOT_CARD.search(field)))


def _birth_ok(d: date, ctx: _Context, today: date | None) -> bool:
    if ctx.event and not ctx.birth:
        return False
    age = _age(d, today or date.today())
    return 0 <= age <= 120 if ctx.birth else 16 <= age <= 100


def _detect_text(s: str, today: date | None, ctx: _Context) -> Detection | None:
    """The category of text ``s`` (no ``@``) read whole, in context ``ctx``."""
    if ("." in s or ":" in s) and not ctx.version:
        try:
            ip = ipaddress.ip_address(s)
        except ValueError:
            pass
        else:
            return Detection(IP, f"ipv{ip.version}")
    if s[:2].isalpha() and iban_ok(s):
        return Detection(IBAN, "iban")
    if _ssn_ok(s) or (ctx.ssn and _ssn_ok(s, loose=True)):
        return Detection(GOVERNMENT_ID, "us_ssn")
    if s[:1].isalpha() and _nino_ok(s):
        return Detection(GOVERNMENT_ID, "uk_nino")
    compact = s.replace(" ", "").replace("-", "").replace(".", "")
    if compact.isdigit():
        if ctx.bsn and bsn_ok(compact):
            return Detection(GOVERNMENT_ID, "nl_bsn")
        if ctx.de_tax and de_tax_id_ok(compact):
            return Detection(GOVERNMENT_ID, "de_tax_id")
    issuer = None if ctx.not_personal else _card(s)
    if issuer:
        return Detection(PAYMENT_CARD, issuer)
    d = parse_date(s)
    if d is None and ctx.birth and not ctx.version:
        d = parse_date(s, short=True, today=today)
    if d is not None:
        return Detection(DATE_OF_BIRTH, "date") if _birth_ok(d, ctx, today) else None
    if not ctx.not_personal and _is_phone(s, hinted=ctx.phone):
        return Detection(PHONE, "phone")
    return None


# -- inside free text ---------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """Personal data found inside a text: its category, kind and span ``text[start:end]``."""

    category: str
    detail: str
    start: int
    end: int


_ANY = re.compile(r"[\d@]")
_WHOLE_MAX = 80
_T_EMAIL = re.compile(r"[\w.+'%*-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_T_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){10,32}", re.I)
_IBAN_LOWER = re.compile(r"[a-z]{2}\d\d(?:[a-z0-9]{10,30}|(?: [a-z0-9]{4})+(?: [a-z0-9]{1,3})?)$")
_T_NINO = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
_T_IPV4 = re.compile(r"(?<![\w.:-])\d{1,3}(?:\.\d{1,3}){3}(?![\w:-]|\.\d)")
_T_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:.])")
# A run of digits with single spaces, dashes, dots, slashes or brackets between them, not
# glued to a word or another number; ``(?:\+|00)`` or ``(`` may lead.
_T_NUMBER = re.compile(
    r"(?<![\w+.,/:-])(?<!\d[ -])(?:\+|\()?\d(?:[ ().\-/]{0,2}\d){3,22}(?![\w@]|[.,/:-]\d|[ -]\d)"
)
_T_DATE_WORDS = re.compile(
    r"\b(?:\d{1,2}\.? [A-Za-z]{3,9}\.?,? \d{4}|[A-Za-z]{3,9}\.? \d{1,2},? \d{4})\b"
)
_TIME_AFTER = re.compile(r"[ T]\d{1,2}:\d{2}")
_WORDS = re.compile(r"[^\W\d_]+")
_PROSE_WORD = re.compile(r"(?<![^\W\d_])[^\W\d_]{2,}(?![\w])")  # a word standing alone
_CTX_BIRTH = {"born", "birth", "dob", "birthday", "bday", "geboren", "geb", "geburtsdatum",
              "geboortedatum", "née", "né", "nacido", "nacida", "naissance"}  # fmt: skip
_CTX_EVENT = {"since", "ordered", "order", "shipped", "delivered", "created", "paid", "due",
              "expires", "expiry", "until", "on", "at", "placed", "returned", "joined", "signed",
              "updated", "issued", "valid", "invoice", "booked", "from", "to", "deployed",
              "build", "released", "release", "version"}  # fmt: skip
_CTX_PHONE = {"call", "phone", "tel", "telephone", "mobile", "mob", "cell", "gsm", "fax", "sms",
              "whatsapp", "text", "ring", "bel", "bellen", "telefon", "telefoon", "handy",
              "reach", "reachable", "touch", "dial", "contact", "number", "nummer", "tél",
              "téléphone", "anrufen", "anruf", "rückruf", "appelez", "appeler", "appel",
              "llamar", "llame", "chiamare", "chiama"}  # fmt: skip
_CTX_NOT_PERSONAL = {"order", "orders", "invoice", "ticket", "tracking", "parcel", "shipment",
                     "sku", "ean", "gtin", "upc", "isbn", "article", "art", "ref", "reference",
                     "build", "version", "release", "rev", "revision", "firmware", "serial",
                     "part", "item", "v", "upgrade", "upgraded", "update", "updated", "to", "case",
                     "batch", "lot",
                     "po", "no", "nr", "id", "zip", "postcode", "plz"}  # fmt: skip
_CTX_SSN = {"ssn", "social", "security", "tin", "itin", "tax", "taxpayer"}
_CTX_BSN = {"bsn", "burgerservicenummer", "sofi", "sofinummer"}
_CTX_CARD = {"card", "cards", "creditcard", "cardnumber", "visa", "mastercard", "amex",
             "maestro", "kaart", "kaartnummer", "karte", "kreditkarte", "kartennummer", "carte",
             "cc", "pan", "pay", "paid", "payment", "charged"}  # fmt: skip
_CTX_VERSION = {"v", "version", "release", "build", "rev", "revision", "firmware"}
_CTX_SAYS_PERSONAL = (
    (_CTX_PHONE - {"number", "nummer", "contact", "reach", "reachable", "touch", "text", "ring"})
    | _CTX_SSN
    | _CTX_BSN
    | _CTX_BIRTH
)
_CTX_DE_TAX = {"steuer", "steuerid", "idnr", "identifikationsnummer", "tin", "tax"}
# Words that only say "a number follows": they take their meaning from the word before
# (``order no.`` is not personal, ``social security no.`` and ``phone nr`` are).
_CTX_NUMBER_WORD = {"no", "nr", "num", "number", "nummer", "id", "nº"}
_DIGITS_TAIL = re.compile(r"\d\D*$")


def _says_personal(words: list[str]) -> bool:
    """Whether the last words name personal data: ``call``, ``SSN``, ``phone no.``..."""
    if not words:
        return False
    if words[-1] in _CTX_NUMBER_WORD and len(words) > 1:
        return words[-2] in _CTX_SAYS_PERSONAL
    return words[-1] in _CTX_SAYS_PERSONAL


def _text_context(text: str, start: int, base: _Context) -> _Context:
    """``base`` (the field's context) plus what the words just before ``start`` say."""
    window = text[max(0, start - 40) : start].lower()
    words = _WORDS.findall(window)[-3:]
    if not words:
        return base
    # A not-personal word names the number just after it: once another number stands
    # between it and this one (``(no. 12) on +49...``), it says nothing about this one.
    tail = _DIGITS_TAIL.search(window)
    near = _WORDS.findall(window[tail.start() + 1 :])[-2:] if tail else words[-2:]
    personal = _says_personal(words)
    birth = any(w in _CTX_BIRTH for w in words)
    phone = any(w in _CTX_PHONE or w.startswith("tel") for w in words)
    ssn = any(w in _CTX_SSN for w in words)
    bsn = any(w in _CTX_BSN for w in words)
    de_tax = any(w in _CTX_DE_TAX for w in words)
    # Inside a not-personal field's text, words naming personal data (``card``, ``call``,
    # ``SSN``...) let a bare run of digits be personal data again.
    named = personal or birth or phone or ssn or bsn or de_tax
    named = named or any(w in _CTX_CARD for w in words)
    return _Context(
        birth=base.birth or birth,
        event=base.event or any(w in _CTX_EVENT for w in near),
        phone=base.phone or phone,
        ssn=base.ssn or ssn,
        bsn=base.bsn or bsn,
        de_tax=base.de_tax or de_tax,
        version=base.version or any(w in _CTX_VERSION for w in near),
        # ... unless the words just before say what it is (``ticket 42: call 06...``)
        not_personal=(base.not_personal or any(w in _CTX_NOT_PERSONAL for w in near))
        and not personal,
        bare_not_personal=base.bare_not_personal and not named,
    )


def find_all(text: str, field: str = "", today: date | None = None) -> list[Finding]:
    """Every piece of personal data in ``text``: the whole text when it is one value
    (``detect``), else what is found inside it, in order, spans not overlapping.

    Inside text the rules of ``detect`` apply to each candidate (an e-mail address, a run
    of digits with separators, an IBAN, a NINO, an IP address, a date written with month
    names), with the field's name and the few words before the candidate as context:
    ``call``, ``tel``, ``SSN``, ``TIN``, ``BSN``, ``born``, ``DOB`` let a bare run of digits
    be a phone number or an identifier, or a two-digit-year date a birth date; ``order``,
    ``SKU``, ``ticket``, ``tracking``, ``version``, ``to`` make the number after them not
    personal; ``since``, ``on``, ``shipped``, ``due`` make a date an event, not a
    birthday. A field named like something not personal (``support_ticket``) hides only
    bare runs of digits and IP addresses in its text (see the module doc).
    """
    if not isinstance(text, str) or not _ANY.search(text):
        return []
    # Every whole-value form is shorter than this; longer text is only read inside.
    whole = detect(text, field, today) if len(text) <= _WHOLE_MAX else None
    if whole is not None:
        start = len(text) - len(text.lstrip())
        return [Finding(whole.category, whole.detail, start, len(text.rstrip()))]
    base = _field_context(field)
    if base.not_personal and len(_PROSE_WORD.findall(text, 0, 400)) >= 2:
        base = replace(base, not_personal=False, bare_not_personal=True)
    found: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def add(category: str, detail: str, start: int, end: int) -> None:
        if any(start < e and s < end for s, e in taken):
            return
        taken.append((start, end))
        found.append(Finding(category, detail, start, end))

    if "@" in text:
        for m in _T_EMAIL.finditer(text):
            start, end = m.span()
            while start < end and text[start] in ".'-+%":
                start += 1
            after = text[end : end + 2]
            if after[:1] in (":", "/") and after[1:2].strip() and after[1:2] not in "/":
                continue  # git@host:org/repo, user@host/path
            if _is_email(text[start:end]):
                add(EMAIL, "email", start, end)
    for m in _T_IBAN.finditer(text):
        span, valid = _iban_span(text, m.start())
        # In lower case only as written by hand: one case, unspaced or in groups of four
        # (not ``ae40 tried 14 gift cards``, words that happen to add up to a length).
        if (
            span is not None
            and not text[span[0] : span[1]].isupper()
            and not _IBAN_LOWER.match(text, span[0], span[1])
        ):
            continue
        if span is not None and valid:
            add(IBAN, "iban", *span)
        elif span is not None:
            taken.append(span)  # IBAN-shaped with a wrong check: its digits are no phone
    for m in _T_NINO.finditer(text) if not text.islower() else ():
        if _nino_ok(m.group()) and not _text_context(text, m.start(), base).not_personal:
            add(GOVERNMENT_ID, "uk_nino", *m.span())
    for m in _T_NUMBER.finditer(text):
        s, start = m.group(), m.start()
        if s.startswith("(") and ")" not in s:
            s, start = s[1:], start + 1  # ``(030/12345678)``: the bracket is the sentence's
        hit = _number(s, _text_context(text, start, base), today, text, m.end())
        if hit is not None:
            add(hit.category, hit.detail, start, m.end())
    for m in _T_DATE_WORDS.finditer(text):
        d = parse_date(m.group())
        if d is not None and _birth_ok(d, _text_context(text, m.start(), base), today):
            add(DATE_OF_BIRTH, "date", *m.span())
    for pattern, mark in ((_T_IPV4, "."), (_T_IPV6, ":")):
        for m in pattern.finditer(text) if mark in text else ():
            ctx = _text_context(text, m.start(), base)
            # a dotted quad is as often a version or a device's default address: an IP
            # address is not read in a not-personal field's text either
            if ctx.version or ctx.not_personal or ctx.bare_not_personal:
                continue
            try:
                ip = ipaddress.ip_address(m.group())
            except ValueError:
                continue
            add(IP, f"ipv{ip.version}", *m.span())
    found.sort(key=lambda f: f.start)
    return found


def _iban_span(text: str, start: int) -> tuple[tuple[int, int] | None, bool]:
    """The span of the IBAN-shaped text starting at ``start`` (spaces between groups
    allowed; ``None`` when it has not its country's length), and whether it is valid."""
    length = _IBAN_LENGTHS.get(text[start : start + 2].upper())
    if length is None:
        return None, False
    chars, i = 0, start
    while i < len(text) and chars < length:
        ch = text[i]
        if ch.isalnum():
            chars += 1
        elif ch != " " or not text[i + 1 : i + 2].isalnum():
            break
        i += 1
    if chars != length or text[i : i + 1].isalnum():
        return None, False
    return (start, i), iban_ok(text[start:i])


def _number(s: str, ctx: _Context, today: date | None, text: str, end: int) -> Detection | None:
    """The category of a run of digits found in a text, in context."""
    if ctx.not_personal or (ctx.bare_not_personal and s.isdigit()):
        return None
    if s.startswith("+"):
        return Detection(PHONE, "phone") if _is_phone(s, hinted=True) else None
    if _TIME_AFTER.match(text, end):
        return None  # a date with a time of day: a timestamp
    hit = _detect_text(s, today, ctx)
    if hit is not None:
        return None if hit.category == IP and ctx.bare_not_personal else hit
    if ctx.birth and not ctx.version:
        d = parse_date(s, short=True, today=today)
        if d is not None and _birth_ok(d, ctx, today):
            return Detection(DATE_OF_BIRTH, "date")
    return None


def scan(value: object, field: str = "", today: date | None = None) -> Detection | None:
    """The first personal data in ``value``: the whole value (``detect``), else inside it
    when it is text (``find_all``)."""
    hit = detect(value, field, today)
    if hit is not None or not isinstance(value, str):
        return hit
    found = find_all(value, field, today)
    return Detection(found[0].category, found[0].detail) if found else None
