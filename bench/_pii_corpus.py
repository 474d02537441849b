"""A labelled set for the PII scanner, generated independently of its rules.

The first labelled set (``tests/fixtures/privacy/scanner_labelled.jsonl``) was written
together with the detectors, with Python's ``random`` and the ``phonenumbers`` example
numbers. This one is generated with another generator (NumPy's PCG64) and another seed,
from the formats as people write them: national and international phone numbers of
eleven countries built from their numbering plans (not taken from ``phonenumbers``),
card numbers of seven networks with a Luhn digit, IBANs of ten countries with their
mod-97 check, dates of birth in eleven notations, e-mail addresses with non-ASCII names,
and the same data inside sentences. Check digits are computed here, not by
``meshkit.privacy.detectors``. About half the values are tricky negatives: order
numbers, SKUs and EANs, version strings, tracking ids, invoice numbers, timestamps,
event dates, amounts, postcodes, hashes, and sentences holding them.

``generate()`` returns columns of labelled values (every value carries the set of
categories it holds); ``evaluate()`` runs the scanner and measures precision and recall
per category, per value (``scan`` on each value with its column's name) and per column
(``scan_table`` on the whole table: a column is reported for each category found in
any of its values). Ages are relative to ``TODAY``.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from meshkit.privacy.detectors import STRUCTURED, find_all
from meshkit.privacy.scanner import scan_table

TODAY = date(2026, 6, 1)
SEED = 90_210_417
ROWS = 80

EMAIL, PHONE, CARD, IBAN, IP, GOV, DOB = STRUCTURED


@dataclass(frozen=True)
class Value:
    text: str
    labels: frozenset[str]


@dataclass(frozen=True)
class Column:
    name: str
    values: list[Value]

    @property
    def labels(self) -> frozenset[str]:
        return frozenset().union(*(v.labels for v in self.values))


@dataclass(frozen=True)
class Corpus:
    columns: list[Column]


class _Gen:
    """Value generators over one NumPy PCG64 stream."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.Generator(np.random.PCG64(seed))

    # -- primitives ---------------------------------------------------------------------
    def num(self, lo: int, hi: int) -> int:
        """An integer in [lo, hi]."""
        return int(self.rng.integers(lo, hi + 1))

    def pick(self, options: list[str] | tuple[str, ...] | str) -> str:
        return options[int(self.rng.integers(0, len(options)))]

    def digits(self, n: int, first: str = string.digits) -> str:
        return self.pick(first) + "".join(self.pick(string.digits) for _ in range(n - 1))

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    # -- e-mail ---------------------------------------------------------------------------
    FIRST = (
        "jürgen",
        "zoë",
        "søren",
        "andré",
        "maría",
        "łukasz",
        "ada",
        "li.wei",
        "noor",
        "mary-jane",
        "o'neil",
        "kwame",
        "ines",
        "björn",
        "chloé",
        "piet",
        "sanne",
    )
    LAST = (
        "müller",
        "de.vries",
        "jansen",
        "brontë",
        "smith",
        "nakamura",
        "okafor",
        "rossi",
        "dubois",
        "kowalski",
        "garcía",
        "van.dijk",
    )
    DOMAINS = (
        "example.com",
        "mail.example.de",
        "example.co.uk",
        "uni-example.nl",
        "post.example.fr",
        "example.io",
        "bücher.example",
        "example.museum",
        "corp.example.org",
        "example.es",
    )

    def email(self) -> str:
        first, last = self.pick(self.FIRST), self.pick(self.LAST)
        local = self.pick(
            [
                f"{first}.{last}",
                f"{first}{self.num(1, 999)}",
                f"{first}+{self.pick(['shop', 'news', 'x'])}",
                f"{last.upper()}",
                f"{first}_{last}",
                f"{first[0]}{last}",
            ]
        )
        return f"{local}@{self.pick(self.DOMAINS)}"

    # -- phone numbers from numbering plans ----------------------------------------------
    def phone(self, *, bare: bool) -> str:
        kind = self.num(0, 11)
        if kind == 0:  # Netherlands mobile 06-[1-5]xxxxxxx
            sub = self.digits(8, "12345")
            return self.pick(
                [
                    f"06-{sub}",
                    f"06 {sub[:4]} {sub[4:]}",
                    f"+31 6 {sub}",
                    f"+31 (0)6 {sub}",
                    f"0031 6 {sub}",
                    f"+316{sub}",
                ]
                + ([f"06{sub}"] if bare else [])
            )
        if kind == 1:  # Netherlands, Amsterdam 020
            sub = self.digits(7, "3456")
            return self.pick([f"020-{sub}", f"020 {sub[:3]} {sub[3:]}", f"+31 20 {sub}"])
        if kind == 2:  # Germany mobile 015x/016x/017x
            prefix = self.pick(["151", "152", "157", "160", "162", "170", "171", "176", "177"])
            sub = self.digits(8 if prefix[1] != "7" or prefix == "176" else 7, "123456789")
            return self.pick(
                [
                    f"0{prefix} {sub}",
                    f"0{prefix}/{sub}",
                    f"+49 {prefix} {sub}",
                    f"+49 (0){prefix} {sub}",
                ]
                + ([f"0{prefix}{sub}"] if bare else [])
            )
        if kind == 3:  # Germany, Berlin 030 / Munich 089
            area = self.pick(["30", "89"])
            sub = self.digits(8, "23456789")
            return self.pick([f"0{area} {sub}", f"0{area}-{sub}", f"+49 {area} {sub}"])
        if kind == 4:  # United Kingdom mobile 07[4-9]xx xxxxxx
            sub = self.pick("456789") + self.digits(8)
            return self.pick(
                [
                    f"07{sub[:3]} {sub[3:]}",
                    f"+44 7{sub[:3]} {sub[3:]}",
                    f"+44 (0)7{sub[:3]} {sub[3:]}",
                ]
                + ([f"07{sub}"] if bare else [])
            )
        if kind == 5:  # United Kingdom, London 020 [378]xxx xxxx
            sub = self.pick("378") + self.digits(7)
            return self.pick([f"020 {sub[:4]} {sub[4:]}", f"+44 20 {sub[:4]} {sub[4:]}"])
        if kind == 6:  # France 06/07 mobile, 01 Paris
            head = self.pick(["6", "7", "1"])
            pairs = [self.digits(2) for _ in range(4)]
            return self.pick(
                [
                    f"0{head} {' '.join(pairs)}",
                    f"0{head}.{'.'.join(pairs)}",
                    f"+33 {head} {' '.join(pairs)}",
                ]
            )
        if kind == 7:  # Belgium mobile 047x-049x
            sub = self.pick("789") + self.digits(7)
            return self.pick(
                [
                    f"04{sub[0]}{sub[1]} {sub[2:4]} {sub[4:6]} {sub[6:]}",
                    f"+32 4{sub[:2]} {sub[2:4]} {sub[4:6]} {sub[6:]}",
                ]
            )
        if kind in (8, 9):  # North America: real area codes, exchange [2-9]xx not N11
            area = self.pick(
                ["212", "415", "312", "617", "202", "305", "206", "512", "718", "646", "303", "404"]
            )
            exchange = self.digits(3, "23456789")
            while exchange[1:] == "11":
                exchange = self.digits(3, "23456789")
            line = self.digits(4)
            return self.pick(
                [
                    f"({area}) {exchange}-{line}",
                    f"{area}-{exchange}-{line}",
                    f"{area}.{exchange}.{line}",
                    f"+1 {area} {exchange} {line}",
                    f"+1-{area}-{exchange}-{line}",
                    f"1-{area}-{exchange}-{line}",
                ]
                + ([f"{area}{exchange}{line}"] if bare else [])
            )
        if kind == 10:  # international only: Australia, Ireland, Switzerland, Austria, Sweden
            return self.pick(
                [
                    f"+61 4{self.digits(2)} {self.digits(3)} {self.digits(3)}",
                    f"+353 8{self.pick('3567')} {self.digits(3)} {self.digits(4)}",
                    f"+41 7{self.pick('6789')} {self.digits(3)} {self.digits(2)} {self.digits(2)}",
                    f"+43 664 {self.digits(7)}",
                    f"+46 70 {self.digits(3)} {self.digits(2)} {self.digits(2)}",
                ]
            )
        # Switzerland / Austria national: 07x xxx xx xx, 0664 xxxxxxx
        return self.pick(
            [
                f"07{self.pick('6789')} {self.digits(3)} {self.digits(2)} {self.digits(2)}",
                f"0664 {self.digits(7)}",
            ]
        )

    # -- cards ---------------------------------------------------------------------------
    @staticmethod
    def luhn_digit(body: str) -> str:
        doubled = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)
        total = sum(doubled[int(c)] if i % 2 == 0 else int(c) for i, c in enumerate(reversed(body)))
        return str(-total % 10)

    def card(self) -> str:
        network = self.num(0, 6)
        prefix, length = [
            (self.pick(["4"]), 16),
            (str(self.num(51, 55)), 16),
            (str(self.num(2221, 2720)), 16),
            (self.pick(["34", "37"]), 15),
            (self.pick(["6011", "65"]), 16),
            (str(self.num(3528, 3589)), 16),
            ("4", 16),
        ][network]
        body = prefix + self.digits(length - len(prefix) - 1)
        number = body + self.luhn_digit(body)
        if length == 15:
            groups = [number[:4], number[4:10], number[10:]]
        else:
            groups = [number[i : i + 4] for i in range(0, length, 4)]
        return self.pick([number, " ".join(groups), "-".join(groups)])

    # -- IBAN ----------------------------------------------------------------------------
    def iban(self, *, valid: bool = True) -> str:
        countries = [
            ("NL", self.pick(["ABNA", "INGB", "RABO", "TRIO"]) + self.digits(10)),
            ("DE", self.digits(18)),
            ("BE", self.digits(12)),
            ("FR", self.digits(10) + self.digits(11) + self.digits(2)),
            ("GB", self.pick(["NWBK", "BARC", "HBUK"]) + self.digits(14)),
            ("ES", self.digits(20)),
            ("IT", self.pick("ABCX") + self.digits(22)),
            ("AT", self.digits(16)),
            ("CH", self.digits(17)),
            ("IE", self.pick(["AIBK", "BOFI"]) + self.digits(14)),
        ]
        country, bban = countries[self.num(0, len(countries) - 1)]
        remainder = 0
        for ch in bban + country + "00":
            for d in str(int(ch, 36)):
                remainder = (remainder * 10 + int(d)) % 97
        check = 98 - remainder
        if not valid:
            check = (check + self.num(1, 90)) % 97 + 2 if check < 98 else 3
        text = f"{country}{check:02d}{bban}"
        return (
            " ".join(text[i : i + 4] for i in range(0, len(text), 4)) if self.chance(0.4) else text
        )

    # -- network, identifiers ------------------------------------------------------------
    def ip(self) -> str:
        if self.chance(0.6):
            first = self.pick([str(n) for n in (23, 45, 62, 81, 93, 145, 178, 185, 203, 212)])
            return f"{first}.{self.num(0, 255)}.{self.num(0, 255)}.{self.num(1, 254)}"
        groups = [f"{self.num(0, 0xFFFF):x}" for _ in range(8)]
        return self.pick(
            [
                ":".join(["2a02", *groups[1:]]),
                f"2001:db8:{groups[2]}::{groups[7]}",
                f"2a01:4f8:{groups[2]}:{groups[3]}::1",
                f"fe80::{groups[4]}:{groups[5]}",
            ]
        )

    def ssn_digits(self) -> str:
        area = self.num(1, 899)
        while area == 666:
            area = self.num(1, 899)
        return f"{area:03d}{self.num(1, 99):02d}{self.num(1, 9999):04d}"

    def ssn(self, *, bare: bool) -> str:
        d = self.ssn_digits()
        return self.pick(
            [f"{d[:3]}-{d[3:5]}-{d[5:]}", f"{d[:3]} {d[3:5]} {d[5:]}"] + ([d] if bare else [])
        )

    def nino(self) -> str:
        while True:
            prefix = self.pick("ABCEGHJKLMNOPRSTWXYZ") + self.pick("ABCEGHJKLMNPRSTWXYZ")
            if prefix not in {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}:
                break
        d = self.digits(6)
        return self.pick(
            [
                f"{prefix}{d}{self.pick('ABCD')}",
                f"{prefix} {d[:2]} {d[2:4]} {d[4:]} {self.pick('ABCD')}",
            ]
        )

    def eleven_proof(self) -> str:
        while True:
            d = self.digits(8, "123456789")
            rest = sum(int(c) * w for c, w in zip(d, (9, 8, 7, 6, 5, 4, 3, 2), strict=True)) % 11
            if rest < 10:
                return d + str(rest)

    # -- dates ---------------------------------------------------------------------------
    MONTHS = (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    )

    def birth(self, lo: int = 18, hi: int = 90) -> date:
        return TODAY - timedelta(days=self.num(lo * 366, hi * 365))

    def date_text(self, d: date, *, short_forms: bool) -> str:
        m = self.MONTHS[d.month - 1]
        forms = [
            d.isoformat(),
            f"{d.day:02d}/{d.month:02d}/{d.year}",
            f"{d.day:02d}.{d.month:02d}.{d.year}",
            f"{d.day:02d}-{d.month:02d}-{d.year}",
            f"{d.day} {m} {d.year}",
            f"{d.day} {m[:3]} {d.year}",
            f"{m} {d.day}, {d.year}",
        ]
        if d.day > 12:
            forms.append(f"{d.month}/{d.day}/{d.year}")  # US order, unambiguous
        if short_forms:
            forms += [
                f"{d.month}/{d.day}/{d.year % 100:02d}",
                f"{d.day}.{d.month}.{d.year % 100:02d}",
                d.strftime("%Y%m%d"),
            ]
        return self.pick(forms)

    # -- look-alikes ---------------------------------------------------------------------
    def order_number(self) -> str:
        return self.pick(
            [
                self.digits(10, "0123456789"),
                "06" + self.digits(8),
                self.digits(16, "4"),
                self.digits(9),
                self.digits(12),
                self.digits(8, "12"),
            ]
        )

    def ean(self) -> str:
        body = self.pick(["40", "41", "43", "50", "87", "54", "76", "80"]) + self.digits(10)
        total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body))
        return body + str(-total % 10)

    def sku(self) -> str:
        return self.pick(
            [
                f"SKU-{self.digits(4)}-{self.pick(['XS', 'S', 'M', 'L', 'XL'])}",
                f"{self.pick(['AB', 'KX', 'ZT'])}-{self.digits(2)}-{self.pick(['CD', 'EF'])}",
                f"ART{self.digits(7)}",
                self.ean(),
            ]
        )

    def tracking(self) -> str:
        alnum = string.ascii_uppercase + string.digits
        return self.pick(
            [
                "1Z" + "".join(self.pick(alnum) for _ in range(16)),
                f"94{self.digits(2)} "
                + " ".join(self.digits(4) for _ in range(4))
                + f" {self.digits(2)}",
                f"{self.digits(4)} {self.digits(4)} {self.digits(4)}",
                f"JJD{self.digits(18)}",
                f"3S{''.join(self.pick(alnum) for _ in range(11))}",
            ]
        )

    def version(self) -> str:
        return self.pick(
            [
                f"{self.num(1, 12)}.{self.num(0, 30)}.{self.num(0, 99)}",
                f"v{self.num(0, 9)}.{self.num(0, 20)}.{self.num(0, 9)}",
                f"{self.num(1, 10)}.{self.num(0, 9)}.{self.num(0, 9)}.{self.num(0, 99)}",
                f"10.0.{self.num(10000, 22631)}.{self.num(1, 3000)}",
            ]
        )

    def invoice(self) -> str:
        return self.pick(
            [
                f"INV-{self.num(2019, 2026)}-{self.digits(6)}",
                f"RE{self.num(2019, 2026)}{self.digits(5)}",
                f"#{self.digits(7)}",
            ]
        )

    def amount(self) -> str:
        n = self.num(1, 999_999) / 100
        return self.pick(
            [f"{n:,.2f}", f"EUR {n:.2f}".replace(".", ","), f"${n:,.2f}", f"{n:.2f} €"]
        )

    def event_date(self) -> date:
        return TODAY - timedelta(days=self.num(-400, 40 * 365))

    def timestamp(self) -> str:
        d = self.event_date()
        t = f"{self.num(0, 23):02d}:{self.num(0, 59):02d}:{self.num(0, 59):02d}"
        return self.pick(
            [f"{d.isoformat()}T{t}Z", f"{d.isoformat()} {t}", f"{d.isoformat()}T{t}+02:00"]
        )

    def postcode(self) -> str:
        return self.pick(
            [
                f"{self.num(1000, 9999)} "
                + self.pick(string.ascii_uppercase)
                + self.pick("ABCDEFGHJ"),
                f"SW{self.num(1, 9)}A {self.num(1, 9)}AA",
                f"{self.digits(5)}-{self.digits(4)}",
                self.digits(5),
            ]
        )

    def hexid(self) -> str:
        h = "".join(self.pick("0123456789abcdef") for _ in range(32))
        return self.pick([h, f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}", h[:7], h[:40]])

    def isbn(self) -> str:
        body = f"978{self.digits(9)}"
        total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body))
        check = str(-total % 10)
        return self.pick([body + check, f"978-{body[3]}-{body[4:6]}-{body[6:12]}-{check}"])


Maker = Callable[[_Gen], Value]


def _v(text: str, *labels: str) -> Value:
    return Value(text, frozenset(labels))


def _sentence(g: _Gen) -> Value:
    """A sentence of a support note: about 40 % hold personal data."""
    if g.chance(0.4):
        return _personal_sentence(g)
    return _plain_sentence(g)


def _personal_sentence(g: _Gen) -> Value:
    k = g.num(0, 17)
    if k == 0:
        return _v(f"contact {g.email()} for delivery", EMAIL)
    if k == 1:
        return _v(f"mail {g.email()} or call {g.phone(bare=False)}", EMAIL, PHONE)
    if k == 2:
        return _v(f"Reply-To: {g.email()}", EMAIL)
    if k == 3:
        return _v(f"customer wrote from <{g.email()}>, asked for a refund", EMAIL)
    if k == 4:
        return _v(f"new number: {g.phone(bare=False)}", PHONE)
    if k == 5:
        return _v(f"please call {g.phone(bare=True)} after 6pm", PHONE)
    if k == 6:
        return _v(f"tel. {g.phone(bare=False)} (office)", PHONE)
    if k == 7:
        return _v(f"refund to IBAN {g.iban()} please", IBAN)
    if k == 8:
        return _v(f"paid with card {g.card()}, exp {g.num(1, 12):02d}/{g.num(27, 31)}", CARD)
    if k == 9:
        return _v(f"login from {g.ip()} failed twice", IP)
    if k == 10:
        return _v(f"SSN {g.ssn(bare=True)} on file", GOV)
    if k == 11:
        return _v(f"NI number {g.nino()} checked", GOV)
    if k == 12:
        return _v(f"BSN {g.eleven_proof()} van de klant", GOV)
    if k == 13:
        return _v(f"born {g.date_text(g.birth(), short_forms=True)} in Leeds", DOB)
    if k == 14:
        return _v(f"date of birth: {g.date_text(g.birth(), short_forms=True)}", DOB)
    if k == 15:
        return _v(f"DOB {g.date_text(g.birth(), short_forms=True)}, verified by phone", DOB)
    if k == 16:
        return _v(f"{g.email()} asked to change the address", EMAIL)
    return _v(f"whatsapp {g.phone(bare=True)} if the door is closed", PHONE)


def _plain_sentence(g: _Gen) -> Value:
    k = g.num(0, 17)
    recent = g.event_date()
    texts = [
        f"order #{g.order_number()} shipped {recent.isoformat()}",
        f"SKU {g.sku()} out of stock",
        f"EAN {g.ean()} restocked",
        f"tracking {g.tracking()} via UPS",
        f"upgraded firmware to {g.version()}",
        f"running version {g.version()} on the till",
        f"build {g.event_date().strftime('%Y%m%d')} deployed",
        f"invoice {g.invoice()} due {(TODAY + timedelta(days=g.num(1, 60))).isoformat()}",
        f"ticket {g.digits(9)} closed",
        f"customer since {g.date_text(g.birth(1, 30), short_forms=False)}",
        f"paid {g.amount()} at {g.timestamp()}",
        f"order {g.order_number()} delivered to the pickup point",
        f"see https://shop.example.com/orders/{g.digits(8)} for details",
        f"ref {g.hexid()} retried",
        f"ISBN {g.isbn()} ordered again",
        f"ordered on {g.date_text(g.birth(1, 30), short_forms=False)}, returned",
        "leave the parcel with the neighbours",
        f"USB-C 3.2 Gen 2, 10 Gbps, {g.num(1, 4)} m cable",
    ]
    return _v(texts[k])


def _columns() -> list[tuple[str, Maker]]:
    dob_short: Maker = lambda g: _v(g.date_text(g.birth(0, 100), short_forms=True), DOB)  # noqa: E731
    return [
        # personal data
        ("email", lambda g: _v(g.email(), EMAIL)),
        ("contact_email", lambda g: _v(g.email(), EMAIL)),
        ("phone", lambda g: _v(g.phone(bare=True), PHONE)),
        ("mobile", lambda g: _v(g.phone(bare=True), PHONE)),
        ("tel_office", lambda g: _v(g.phone(bare=False), PHONE)),
        ("contact_number", lambda g: _v(g.phone(bare=False), PHONE)),
        ("card_number", lambda g: _v(g.card(), CARD)),
        ("pan", lambda g: _v(g.card(), CARD)),
        ("iban", lambda g: _v(g.iban(), IBAN)),
        ("payout_account", lambda g: _v(g.iban(), IBAN)),
        ("client_ip", lambda g: _v(g.ip(), IP)),
        ("last_login_ip", lambda g: _v(g.ip(), IP)),
        ("ssn", lambda g: _v(g.ssn(bare=True), GOV)),
        ("ni_number", lambda g: _v(g.nino(), GOV)),
        ("bsn", lambda g: _v(g.eleven_proof(), GOV)),
        ("date_of_birth", dob_short),
        ("dob", dob_short),
        ("birthday", dob_short),
        ("notes", _sentence),
        ("delivery_instructions", _sentence),
        ("comment", _sentence),
        ("remarks", _personal_sentence),
        # look-alikes
        ("order_number", lambda g: _v(g.order_number())),
        ("order_id", lambda g: _v(f"ORD-{g.num(2019, 2026)}-{g.digits(6)}")),
        ("sku", lambda g: _v(g.sku())),
        ("ean", lambda g: _v(g.ean())),
        ("tracking_id", lambda g: _v(g.tracking())),
        ("version", lambda g: _v(g.version())),
        ("build", lambda g: _v(g.event_date().strftime("%Y%m%d"))),
        ("invoice_no", lambda g: _v(g.invoice())),
        ("amount", lambda g: _v(g.amount())),
        ("created_at", lambda g: _v(g.timestamp())),
        ("order_date", lambda g: _v(g.date_text(g.birth(1, 40), short_forms=False))),
        ("shipped_on", lambda g: _v(g.event_date().isoformat())),
        ("postcode", lambda g: _v(g.postcode())),
        ("request_id", lambda g: _v(g.hexid())),
        (
            "status",
            lambda g: _v(g.pick(["shipped", "pending", "cancelled", "returned", "on hold"])),
        ),
        ("product_description", _plain_sentence),
        ("support_note", _plain_sentence),
        ("customer_number", lambda g: _v(g.pick([g.eleven_proof(), g.digits(9), g.digits(7)]))),
        ("ticket_id", lambda g: _v(g.digits(9))),
        ("isbn", lambda g: _v(g.isbn())),
        (
            "coordinates",
            lambda g: _v(f"{g.num(-89, 89)}.{g.digits(4)}, {g.num(-179, 179)}.{g.digits(4)}"),
        ),
        ("time_of_day", lambda g: _v(f"{g.num(0, 23):02d}:{g.num(0, 59):02d}:{g.num(0, 59):02d}")),
        ("mac_address", lambda g: _v(":".join(f"{g.num(0, 255):02X}" for _ in range(6)))),
        ("iban_check", lambda g: _v(g.iban(valid=False))),
    ]


def generate(rows: int = ROWS, seed: int = SEED) -> Corpus:
    """The labelled columns (deterministic for a seed)."""
    g = _Gen(seed)
    return Corpus([Column(name, [make(g) for _ in range(rows)]) for name, make in _columns()])


@dataclass
class _Counts:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)

    def add(self, expected: frozenset[str], predicted: frozenset[str]) -> None:
        for c in expected & predicted:
            self.tp[c] += 1
        for c in predicted - expected:
            self.fp[c] += 1
        for c in expected - predicted:
            self.fn[c] += 1

    def precision(self, c: str) -> float:
        return self.tp[c] / (self.tp[c] + self.fp[c]) if self.tp[c] + self.fp[c] else 1.0

    def recall(self, c: str) -> float:
        return self.tp[c] / (self.tp[c] + self.fn[c]) if self.tp[c] + self.fn[c] else 1.0

    def worst(self) -> float:
        return min(min(self.precision(c), self.recall(c)) for c in STRUCTURED)


@dataclass
class Evaluation:
    """Precision and recall per category, per value and per column."""

    values: _Counts
    columns: _Counts
    n_values: int
    n_columns: int
    misses: list[str]
    column_misses: list[str]

    @property
    def worst_value(self) -> float:
        return self.values.worst()

    @property
    def worst_column(self) -> float:
        return self.columns.worst()

    def table(self) -> str:
        lines = [
            f"independent labelled set: {self.n_values} values in {self.n_columns} columns",
            f"{'category':<15} {'value P':>8} {'value R':>8} {'tp':>5} {'fp':>4} {'fn':>4}"
            f" {'column P':>9} {'column R':>9}",
        ]
        v, c = self.values, self.columns
        for cat in STRUCTURED:
            lines.append(
                f"{cat:<15} {v.precision(cat):>8.3f} {v.recall(cat):>8.3f} {v.tp[cat]:>5}"
                f" {v.fp[cat]:>4} {v.fn[cat]:>4} {c.precision(cat):>9.3f} {c.recall(cat):>9.3f}"
            )
        return "\n".join(lines)


def evaluate(corpus: Corpus, today: date = TODAY) -> Evaluation:
    """Run the scanner over ``corpus`` (see the module docstring)."""
    values, columns = _Counts(), _Counts()
    misses: list[str] = []
    n = 0
    for col in corpus.columns:
        for v in col.values:
            n += 1
            predicted = frozenset(f.category for f in find_all(v.text, col.name, today))
            values.add(v.labels, predicted)
            if predicted != v.labels:
                misses.append(
                    f"{col.name}={v.text!r}: expected {sorted(v.labels)}, got {sorted(predicted)}"
                )
    table = pa.table({col.name: [v.text for v in col.values] for col in corpus.columns})
    findings = {f.field: f for f in scan_table(table, sample=table.num_rows, today=today)}
    column_misses = []
    for col in corpus.columns:
        predicted = frozenset(findings[col.name].matches)
        columns.add(col.labels, predicted)
        if predicted != col.labels:
            column_misses.append(
                f"{col.name}: expected {sorted(col.labels)}, got {sorted(predicted)}"
            )
    return Evaluation(values, columns, n, len(corpus.columns), misses, column_misses)
