"""A labelled corpus of e-commerce columns, written without reading the detector's code.

Every value is built from templates with ``random.Random(seed)`` and labelled by
construction with the categories of personal data it holds (``email``, ``phone``,
``payment_card``, ``iban``, ``government_id``, ``date_of_birth``, ``ip``). Personal data
is generated from public numbering plans and checksums (Luhn, IBAN mod 97, SSN issuance
rules, real dates at ages 18-90 on ``TODAY``); look-alikes come from the identifiers an
online shop really stores (order numbers, SKUs, EANs, tracking ids, PSP references,
versions, invoices, timestamps, prices, postcodes, hashes, coupons, book publication dates).

A positive column holds each of its categories in at least 10 % of its values (the share
is fixed per column, the positions are random), so a column-level threshold of 5 % measures
the detector, not the sampling.
"""

from __future__ import annotations

import datetime
import random
import string
from collections.abc import Callable
from dataclasses import dataclass

SEED = 20261204
TODAY = datetime.date(2026, 12, 4)

EMAIL = "email"
PHONE = "phone"
CARD = "payment_card"
IBAN = "iban"
GOV = "government_id"
DOB = "date_of_birth"
IP = "ip"
CATEGORIES = (EMAIL, PHONE, CARD, IBAN, GOV, DOB, IP)


@dataclass(frozen=True)
class Value:
    """One cell: its text and the categories of personal data it holds (empty: none)."""

    text: str
    labels: frozenset[str]


@dataclass(frozen=True)
class Column:
    """One column of a table: the field name the detector sees, what it is, its values."""

    name: str
    kind: str
    values: tuple[Value, ...]


def _words(text: str) -> list[str]:
    return text.split()


FIRST = _words(
    "jan anna pieter sanne lukas mia oliver emma james olivia lucas chloe noah sophie "
    "daan lotte felix hannah thomas julie michael sarah david laura kevin jessica ahmed "
    "fatima wei yuki"
)
FIRST_NONASCII = _words(
    "jürgen zoë françois søren josé björn élodie günther chloé andré łukasz māra ömer "
    "renée ioana noël dolores agnès"
)
LAST = _words(
    "devries jansen bakker visser smit mueller schmidt schneider fischer smith jones "
    "taylor brown wilson martin bernard dubois johnson garcia miller davis nguyen "
    "kowalski rossi vandenberg"
)
LAST_NONASCII = _words(
    "müller groß lefèvre østergaard núñez gómez schäfer wójcik françois jørgensen könig "
    "čapek öztürk brontë"
)
DOMAINS = _words(
    "gmail.com outlook.com hotmail.com yahoo.com icloud.com web.de gmx.de gmx.net "
    "t-online.de ziggo.nl kpnmail.nl xs4all.nl hotmail.co.uk btinternet.com orange.fr "
    "free.fr laposte.net protonmail.com proton.me live.nl yahoo.fr mail.de "
    "acme-logistics.co.uk studenti.unimi.it student.uva.nl posteo.de company.example.com"
)
DOMAINS_NONASCII = _words(
    "müller-bau.de bücherwurm.de café-lefèvre.fr straße.example пример.рф münchen.de "
    "sjøsiden.no ñandú.es"
)
MONTHS = _words(
    "January February March April May June July August September October November December"
)
WORDS = _words(
    "order parcel delivery refund size colour box item return invoice discount courier "
    "jacket shoes lamp cable kettle"
)


class Gen:
    """Builders of personal data and look-alikes, all drawing from one ``random.Random``."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    # -- helpers -------------------------------------------------------------------------
    def digits(self, n: int, first: str = "0123456789") -> str:
        r = self.r
        return r.choice(first) + "".join(r.choice(string.digits) for _ in range(n - 1))

    def pick(self, seq: str | list[str] | tuple[str, ...]) -> str:
        return self.r.choice(seq)

    # -- e-mail --------------------------------------------------------------------------
    def email(self, non_ascii: float = 0.2) -> str:
        r = self.r
        nonascii = r.random() < non_ascii
        first = self.pick(FIRST_NONASCII if nonascii else FIRST)
        last = self.pick(LAST_NONASCII if nonascii and r.random() < 0.7 else LAST)
        shape = r.randrange(7)
        if shape == 0:
            local = f"{first}.{last}"
        elif shape == 1:
            local = f"{first}{r.randrange(1, 99)}"
        elif shape == 2:
            local = f"{first[0]}.{last}"
        elif shape == 3:
            local = f"{first}_{last}{r.randrange(1960, 2008)}"
        elif shape == 4:
            local = f"{first}.{last}+{self.pick(['shop', 'orders', 'newsletter', 'amz'])}"
        elif shape == 5:
            local = f"{first}-{last}"
        else:
            local = f"{last}.{first[0]}"
        if r.random() < 0.1:
            local = local.capitalize()
        domain = (
            self.pick(DOMAINS_NONASCII) if nonascii and r.random() < 0.35 else self.pick(DOMAINS)
        )
        return f"{local}@{domain}"

    # -- phone ---------------------------------------------------------------------------
    def phone(self, country: str | None = None, bare: bool = True) -> str:
        """A phone number of ``country`` (random if None) in one of its usual notations."""
        r = self.r
        country = country or self.pick(["NL", "DE", "UK", "US", "FR", "BE"])
        builders: dict[str, Callable[[], list[str]]] = {
            "NL": self._nl,
            "DE": self._de,
            "UK": self._uk,
            "US": self._us,
            "FR": self._fr,
            "BE": self._be,
        }
        forms = builders[country]()
        if not bare:
            forms = [f for f in forms if not f.isdigit()] or forms
        return r.choice(forms)

    def _nl(self) -> list[str]:
        r = self.r
        if r.random() < 0.65:
            sub = self.digits(8, "12345")
            a, b = sub[:4], sub[4:]
            return [
                f"06{sub}",
                f"06-{sub}",
                f"06 {sub}",
                f"06 {a} {b}",
                f"06-{a} {b}",
                f"+31 6 {sub}",
                f"+316{sub}",
                f"+31 6 {a} {b}",
                f"0031 6 {sub}",
                f"+31 (0)6 {sub}",
                f"(06) {sub}",
                f"06 {sub[:2]} {sub[2:4]} {sub[4:6]} {sub[6:]}",
            ]
        area, n = r.choice([("20", 7), ("10", 7), ("30", 7), ("70", 7), ("40", 7), ("24", 7)])
        sub = self.digits(n, "2345678")
        return [
            f"0{area} {sub[:3]} {sub[3:]}",
            f"0{area}-{sub}",
            f"0{area} {sub}",
            f"+31 {area} {sub[:3]} {sub[3:]}",
            f"+31{area}{sub}",
            f"(0{area}) {sub}",
            f"0{area}{sub}",
        ]

    def _de(self) -> list[str]:
        r = self.r
        if r.random() < 0.6:
            pre, n = r.choice(
                [("151", 8), ("152", 8), ("157", 8), ("160", 7), ("170", 7), ("171", 7),
                 ("175", 7), ("176", 8), ("172", 7), ("179", 7)]
            )  # fmt: skip
            sub = self.digits(n, "123456789")
            return [
                f"0{pre} {sub}",
                f"0{pre}-{sub}",
                f"0{pre}/{sub}",
                f"+49 {pre} {sub}",
                f"+49 (0){pre} {sub}",
                f"0049 {pre} {sub}",
                f"+49{pre}{sub}",
                f"0{pre} {sub[:4]} {sub[4:]}",
                f"0{pre}{sub}",
                f"+49 {pre} {sub[:4]} {sub[4:]}",
            ]
        area, n = r.choice([("30", 8), ("89", 8), ("40", 8), ("221", 7), ("69", 8), ("711", 7)])
        sub = self.digits(n, "23456789")
        return [
            f"0{area} {sub}",
            f"0{area}/{sub}",
            f"0{area}-{sub}",
            f"+49 {area} {sub}",
            f"+49 (0){area} {sub}",
            f"(0{area}) {sub}",
            f"0{area} {sub[:3]} {sub[3:]}",
        ]

    def _uk(self) -> list[str]:
        r = self.r
        if r.random() < 0.6:
            sub = r.choice("45789") + self.digits(8)
            return [
                f"07{sub[:3]} {sub[3:]}",
                f"07{sub}",
                f"+44 7{sub[:3]} {sub[3:]}",
                f"+44 (0)7{sub[:3]} {sub[3:]}",
                f"0044 7{sub[:3]} {sub[3:]}",
                f"+447{sub}",
                f"07{sub[:3]}-{sub[3:]}",
                f"07{sub[:3]} {sub[3:6]} {sub[6:]}",
            ]
        if r.random() < 0.6:
            sub = r.choice("378") + self.digits(7)
            return [
                f"020 {sub[:4]} {sub[4:]}",
                f"(020) {sub[:4]} {sub[4:]}",
                f"+44 20 {sub[:4]} {sub[4:]}",
                f"+44 (0)20 {sub[:4]} {sub[4:]}",
                f"020{sub}",
            ]
        area = r.choice(["161", "121", "131", "141", "113", "117"])
        sub = self.digits(7, "234")
        return [
            f"0{area} {sub[:3]} {sub[3:]}",
            f"(0{area}) {sub[:3]} {sub[3:]}",
            f"+44 {area} {sub[:3]} {sub[3:]}",
            f"0{area}-{sub[:3]}-{sub[3:]}",
        ]

    def _us(self) -> list[str]:
        r = self.r
        area = r.choice(
            ["212", "415", "312", "617", "206", "303", "512", "646", "713", "404", "305", "702",
             "213", "310", "503", "612", "718", "917", "202", "480"]
        )  # fmt: skip
        while True:
            exch = self.digits(3, "23456789")
            if exch[1:] != "11" and exch != "555":
                break
        line = self.digits(4)
        return [
            f"({area}) {exch}-{line}",
            f"{area}-{exch}-{line}",
            f"{area}.{exch}.{line}",
            f"+1 {area} {exch} {line}",
            f"+1-{area}-{exch}-{line}",
            f"1-{area}-{exch}-{line}",
            f"+1 ({area}) {exch}-{line}",
            f"{area} {exch} {line}",
            f"+1{area}{exch}{line}",
            f"{area}{exch}{line}",
        ]

    def _fr(self) -> list[str]:
        r = self.r
        if r.random() < 0.7:
            head = r.choice(["6", "6", "6", "7"])
            sub = (r.choice("3456789") if head == "7" else r.choice("01245678")) + self.digits(7)
        else:
            head = r.choice("12345")
            sub = self.digits(8, "123456789")
        p = [sub[i : i + 2] for i in range(0, 8, 2)]
        return [
            f"0{head} {' '.join(p)}",
            f"0{head}.{'.'.join(p)}",
            f"0{head}-{'-'.join(p)}",
            f"+33 {head} {' '.join(p)}",
            f"+33 (0){head} {' '.join(p)}",
            f"0033 {head} {' '.join(p)}",
            f"+33{head}{sub}",
            f"0{head}{sub}",
        ]

    def _be(self) -> list[str]:
        sub = self.r.choice(["470", "471", "472", "475", "476", "477", "478", "479", "485", "494"])
        rest = self.digits(6)
        a, b, c = rest[:2], rest[2:4], rest[4:]
        return [
            f"0{sub} {a} {b} {c}",
            f"+32 {sub} {a} {b} {c}",
            f"0{sub}/{a}.{b}.{c}",
            f"+32{sub}{rest}",
            f"0032 {sub} {a}{b}{c}",
        ]

    # -- payment card --------------------------------------------------------------------
    def card(self, bare: bool = True) -> str:
        r = self.r
        prefix, length = r.choice(
            [("4", 16), ("4", 16), ("4", 16), ("51", 16), ("53", 16), ("55", 16),
             (str(r.randrange(2221, 2721)), 16), ("34", 15), ("37", 15), ("6011", 16),
             ("65", 16), (str(r.randrange(3528, 3590)), 16), ("36", 14), ("4", 13)]
        )  # fmt: skip
        body = prefix + "".join(r.choice(string.digits) for _ in range(length - len(prefix) - 1))
        pan = body + _luhn_digit(body)
        if length == 15:
            forms = [pan, f"{pan[:4]} {pan[4:10]} {pan[10:]}", f"{pan[:4]}-{pan[4:10]}-{pan[10:]}"]
        elif length == 16:
            g = [pan[i : i + 4] for i in range(0, 16, 4)]
            forms = [pan, " ".join(g), "-".join(g), " ".join(g)]
        elif length == 14:
            forms = [pan, f"{pan[:4]} {pan[4:10]} {pan[10:]}"]
        else:
            forms = [pan]
        if not bare and len(forms) > 1:
            forms = forms[1:]
        return r.choice(forms)

    # -- IBAN ----------------------------------------------------------------------------
    def iban(self, spaced: float = 0.4) -> str:
        r = self.r
        up = string.ascii_uppercase
        country = r.choice(["NL", "NL", "DE", "DE", "BE", "FR", "GB", "ES", "IT", "AT"])
        if country == "NL":
            bank = r.choice(["ABNA", "INGB", "RABO", "SNSB", "TRIO", "ASNB", "KNAB", "BUNQ"])
            bban = bank + self.digits(10)
        elif country == "DE":
            bban = self.digits(8, "123456789") + self.digits(10)
        elif country == "BE":
            head = self.digits(10)
            check = int(head) % 97 or 97
            bban = f"{head}{check:02d}"
        elif country == "FR":
            bban = self.digits(5) + self.digits(5) + self.digits(11) + self.digits(2)
        elif country == "GB":
            bank = r.choice(["NWBK", "BARC", "LOYD", "HBUK", "MIDL"])
            bban = bank + self.digits(6) + self.digits(8)
        elif country == "ES":
            bban = self.digits(20)
        elif country == "IT":
            bban = r.choice(up) + self.digits(10) + self.digits(12)
        else:
            bban = self.digits(16)
        iban = _iban(country, bban)
        if r.random() < spaced:
            return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))
        if r.random() < 0.1:
            return iban.lower()
        return iban

    # -- US SSN --------------------------------------------------------------------------
    def ssn(self, style: str | None = None) -> str:
        r = self.r
        while True:
            area = r.randrange(1, 900)
            if area != 666:
                break
        group, serial = r.randrange(1, 100), r.randrange(1, 10000)
        style = style or r.choice(["dash", "dash", "space", "none"])
        sep = {"dash": "-", "space": " ", "none": ""}[style]
        return f"{area:03d}{sep}{group:02d}{sep}{serial:04d}"

    # -- date of birth -------------------------------------------------------------------
    def birth(self) -> datetime.date:
        days = self.r.randrange(18 * 365 + 5, 90 * 365)
        return TODAY - datetime.timedelta(days=days)

    def date_text(self, d: datetime.date, style: str | None = None) -> str:
        style = style or self.pick(
            ["iso", "dmy_dot", "dmy_dash", "dmy_slash", "mdy_slash", "long", "us_long",
             "short_month", "dmy_dot_nozero"]
        )  # fmt: skip
        month = MONTHS[d.month - 1]
        return {
            "iso": d.isoformat(),
            "dmy_dot": d.strftime("%d.%m.%Y"),
            "dmy_dash": d.strftime("%d-%m-%Y"),
            "dmy_slash": d.strftime("%d/%m/%Y"),
            "mdy_slash": d.strftime("%m/%d/%Y"),
            "long": f"{d.day} {month} {d.year}",
            "us_long": f"{month} {d.day}, {d.year}",
            "short_month": f"{d.day} {month[:3]} {d.year}",
            "dmy_dot_nozero": f"{d.day}.{d.month}.{d.year}",
            "mdy_short": f"{d.month}/{d.day}/{d.year % 100:02d}",
            "compact": d.strftime("%Y%m%d"),
        }[style]

    # -- IP ------------------------------------------------------------------------------
    def ipv4(self) -> str:
        r = self.r
        while True:
            a = r.randrange(1, 224)
            if a not in (10, 127, 100, 169, 172, 192, 0):
                break
        return f"{a}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}"

    def ipv6(self) -> str:
        r = self.r
        prefix = r.choice(["2a02:a46f", "2001:1c00", "2a01:4f8", "2600:1700", "2a00:23c5",
                           "2003:e6", "2a02:8109"])  # fmt: skip
        groups = [f"{r.randrange(0x10000):x}" for _ in range(7 - prefix.count(":"))]
        full = f"{prefix}:{':'.join(groups)}"
        if r.random() < 0.4:
            return f"{prefix}:{groups[0]}::{r.randrange(1, 0xFFFF):x}"
        if r.random() < 0.15:
            return full.upper()
        return full

    def ip(self) -> str:
        return self.ipv4() if self.r.random() < 0.7 else self.ipv6()

    # -- look-alikes ---------------------------------------------------------------------
    def ean13(self) -> str:
        body = self.pick(["87", "40", "50", "54", "76", "80", "30"]) + self.digits(10)
        return body + _ean_digit(body)

    def tracking(self) -> str:
        r = self.r
        kind = r.randrange(6)
        if kind == 0:
            body = "".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(6))
            return f"1Z{body}{self.digits(10)}"
        if kind == 1:
            return f"JJD{self.digits(18)}"
        if kind == 2:
            letters = "".join(r.choice(string.ascii_uppercase) for _ in range(4))
            return f"3S{letters}{self.digits(7)}"
        if kind == 3:
            d = "9400" + self.digits(18)
            return " ".join(d[i : i + 4] for i in range(0, 22, 4))
        if kind == 4:
            return self.digits(12, "4567")
        letters = "".join(r.choice(string.ascii_uppercase) for _ in range(2))
        return f"{letters}{self.digits(9)}{r.choice(['GB', 'NL', 'DE'])}"

    def order_ref(self) -> str:
        r = self.r
        kind = r.randrange(5)
        if kind == 0:
            return f"ORD-{r.choice([2025, 2026])}-{self.digits(6)}"
        if kind == 1:
            return f"{self.digits(3, '1234')}-{self.digits(7)}-{self.digits(7)}"
        if kind == 2:
            return f"#{r.randrange(1001, 99999)}"
        if kind == 3:
            return self.digits(10, "12")
        return f"A{self.digits(9)}"

    def version(self) -> str:
        r = self.r
        kind = r.randrange(5)
        if kind == 0:
            return f"{r.randrange(1, 12)}.{r.randrange(30)}.{r.randrange(20)}"
        if kind == 1:
            return f"{r.randrange(1, 9)}.{r.randrange(20)}.{r.randrange(10)}.{r.randrange(300)}"
        if kind == 2:
            return f"v{r.randrange(1, 5)}.{r.randrange(20)}.{r.randrange(10)}"
        if kind == 3:
            year, month, day = r.randrange(2023, 2027), r.randrange(1, 13), r.randrange(1, 29)
            return f"{year}.{month}.{day}.{r.randrange(1, 9)}"
        return f"{r.randrange(1, 5)}.{r.randrange(10)}.{r.randrange(10)}-rc.{r.randrange(1, 5)}"

    def invoice(self) -> str:
        r = self.r
        year = r.choice([2025, 2026])
        forms = [f"INV-{year}-{self.digits(6)}", f"{year}/{self.digits(6)}"]
        forms += [f"F{year}-{self.digits(5)}", f"{year}{self.digits(6)}", f"RE-{self.digits(8)}"]
        return r.choice(forms)

    def event_date(self) -> datetime.date:
        return TODAY - datetime.timedelta(days=self.r.randrange(0, 900))

    def timestamp(self) -> str:
        r = self.r
        d = self.event_date()
        h, m, s = r.randrange(24), r.randrange(60), r.randrange(60)
        iso, clock = d.isoformat(), f"{h:02d}:{m:02d}"
        epoch = datetime.datetime(d.year, d.month, d.day, h, m, tzinfo=datetime.UTC).timestamp()
        forms = [f"{iso}T{clock}:{s:02d}Z", f"{iso} {clock}:{s:02d}"]
        forms += [
            f"{d.strftime('%d.%m.%Y')} {clock}",
            f"{d.strftime('%m/%d/%Y')} {h % 12 + 1}:{m:02d} PM",
        ]
        forms += [f"{iso}T{clock}:{s:02d}.{r.randrange(1000):03d}+01:00", str(int(epoch))]
        return r.choice(forms)

    def price(self) -> str:
        r = self.r
        v = r.randrange(99, 250000) / 100
        euro = f"€{v:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".")
        return r.choice(
            [euro, f"{v:.2f}", f"${v:,.2f}", f"£{v:.2f}", f"{v:.2f} EUR", f"EUR {v:,.2f}"]
        )

    def postcode(self) -> str:
        r = self.r
        up = string.ascii_uppercase
        two = r.choice(up) + r.choice(up)
        uk = f"{r.choice(['SW1A', 'EC1V', 'M1', 'B33', 'W1D', 'LS1'])} {r.randrange(10)}{two}"
        forms = [f"{self.digits(4, '123456789')} {two}", self.digits(5), uk]
        forms += [f"750{r.randrange(1, 21):02d}", f"{self.digits(5)}-{self.digits(4)}"]
        return r.choice(forms)

    def hexstr(self, n: int) -> str:
        return "".join(self.r.choice("0123456789abcdef") for _ in range(n))

    def uuid(self) -> str:
        h = self.hexstr(32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{self.r.choice('89ab')}{h[17:20]}-{h[20:]}"

    def coupon(self) -> str:
        r = self.r
        up = string.ascii_uppercase + string.digits
        season = r.choice(["WINTER", "SUMMER", "WELCOME", "BF", "XMAS", "SPRING"])
        forms = [f"{season}{r.randrange(5, 60, 5)}", f"SAVE{r.randrange(5, 50, 5)}-NOW"]
        forms += ["".join(r.choice(up) for _ in range(10))]
        forms += [f"BF2026-{''.join(r.choice(up) for _ in range(4))}"]
        return r.choice(forms)

    def sku(self) -> str:
        r = self.r
        kind = r.choice(["TSH", "JKT", "SHO", "LMP", "CBL"])
        colour = r.choice(["BLK", "WHT", "RED", "NVY"])
        size = r.choice(["XS", "S", "M", "L", "XL", "42", "38"])
        forms = [f"{kind}-{colour}-{size}-{self.digits(4)}", f"SKU{self.digits(8)}"]
        forms += [f"{self.digits(3)}.{self.digits(3)}.{self.digits(2)}"]
        forms += [f"{self.digits(2)}-{self.digits(4)}-{self.digits(4)}"]
        return r.choice(forms)

    def payment_reference(self) -> str:
        """An ISO 11649 creditor reference (``RF..``) or a Dutch 16-digit payment reference."""
        if self.r.random() < 0.5:
            ref = self.digits(self.r.randrange(8, 16))
            numeric = "".join(str(int(c, 36)) for c in ref + "RF00")
            full = f"RF{98 - int(numeric) % 97:02d}{ref}"
        else:
            full = self.digits(16)
        return " ".join(full[i : i + 4] for i in range(0, len(full), 4))

    def masked_card(self) -> str:
        last4 = self.digits(4)
        bin6 = self.card().replace(" ", "").replace("-", "")[:6]
        forms = [f"**** **** **** {last4}", f"{bin6}******{last4}"]
        forms += [f"XXXX-XXXX-XXXX-{last4}", f"ending in {last4}"]
        return self.pick(forms)

    def psp_reference(self) -> str:
        return self.r.choice(["88", "85", "86"]) + self.digits(14)


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _ean_digit(body: str) -> str:
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body))
    return str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


# ---------------------------------------------------------------------------------------
# Columns. A builder returns one value; a positive builder returns (text, labels).

Builder = Callable[[Gen], tuple[str, frozenset[str]]]
NONE: frozenset[str] = frozenset()


def _pos(cat: str, fn: Callable[[Gen], str]) -> Builder:
    return lambda g: (fn(g), frozenset({cat}))


def _neg(fn: Callable[[Gen], str]) -> Builder:
    return lambda g: (fn(g), NONE)


def _sentence(cat: str, templates: list[str], item: Callable[[Gen], str]) -> Builder:
    """A sentence from ``templates`` with ``{x}`` replaced by one item of ``cat``."""

    def build(g: Gen) -> tuple[str, frozenset[str]]:
        return g.pick(templates).replace("{x}", item(g)), frozenset({cat})

    return build


def _filler(templates: list[str]) -> Builder:
    """A sentence without personal data; ``{o}``, ``{t}``, ``{d}`` … filled with look-alikes."""

    def build(g: Gen) -> tuple[str, frozenset[str]]:
        text = g.pick(templates)
        fills: dict[str, Callable[[], str]] = {
            "{o}": g.order_ref,
            "{t}": g.tracking,
            "{i}": g.invoice,
            "{p}": g.price,
            "{ts}": g.timestamp,
            "{d}": lambda: g.date_text(g.event_date()),
            "{v}": g.version,
            "{e}": g.ean13,
            "{s}": g.sku,
            "{c}": g.coupon,
            "{z}": g.postcode,
            "{n}": lambda: str(g.r.randrange(2, 40)),
            "{psp}": g.psp_reference,
            "{w}": lambda: g.pick(WORDS),
            "{h}": lambda: g.hexstr(12),
        }
        for key, fn in fills.items():
            while key in text:
                text = text.replace(key, fn(), 1)
        return text, NONE

    return build


# Phrasings of a phone number inside text (delivery instructions, chats, tickets).
PHONE_TEXT = [
    "Please call {x} when you arrive",
    "Bel even op {x} als je er bent, bel doet het niet",
    "ring the bell, if nobody answers try {x}",
    "Leave at door. Mobile: {x}",
    "Bitte vorher anrufen: {x}",
    "Appelez-moi au {x} avant de livrer svp",
    "{x} - call before delivery",
    "My number is {x}, text me if the parcel is too big for the letterbox",
    "can the driver whatsapp me on {x}? thanks",
    "Contact neighbour (no. 12) on {x} if not home",
    "Tel {x} / gate code 4821",
    "Please phone my husband ({x}) he is home all day",
    "Reach me on {x} between 9 and 5.",
    "new number: {x}",
    "You can reach me at {x} or just leave it in the shed",
    "Bij geen gehoor: {x}",
    "Handy {x}, Paket bitte beim Nachbarn abgeben",
    "Hi, this is about my delivery, please get in touch on {x}!",
]
EMAIL_TEXT = [
    "You can reach me at {x}",
    "Please send the invoice to {x} instead",
    "{x} is my new e-mail address, please update it",
    "my mail is {x}",
    "Contact: {x}",
    "mail me the return label at <{x}>",
    "I never got the confirmation on {x}.",
    "Could you change the account e-mail ({x}) to my work one?",
    "Bitte Rechnung an {x} schicken",
    "Stuur de factuur naar {x} aub",
    "email:{x}",
    "Forwarded by {x}: the package arrived damaged",
    "mailto:{x}",
    "Merci d'écrire à {x} pour le retour",
]
CARD_TEXT = [
    "I was charged twice on my card {x}",
    "Paid with {x} but the order shows unpaid",
    "Please refund to the card ending... actually the full number is {x}",
    "Kaartnummer {x}, vervaldatum 09/28",
    "card: {x} exp 11/27 cvv 123",
    "The payment with {x} was declined, can you check?",
    "Meine Kreditkarte {x} wurde doppelt belastet",
    "{x} is the card I used",
]
IBAN_TEXT = [
    "Please refund to {x}",
    "Refund IBAN: {x} (J. de Vries)",
    "Graag terugstorten op {x}",
    "Bitte auf mein Konto {x} zurückerstatten",
    "payout account changed to {x}",
    "Remboursement sur le compte {x} merci",
    "my bank details are {x}, name as on the order",
    "{x} t.n.v. P. Jansen",
]
SSN_TEXT = [
    "W-9 received, SSN {x}",
    "Seller provided SSN {x} for 1099 reporting",
    "social security number {x}, verified against ID",
    "SSN: {x}",
    "Identity check: ssn {x} matches",
    "customer sent her social security no. {x} in the chat, redact",
    "TIN (SSN) {x} on file",
]
DOB_TEXT = [
    "Age verified, DOB {x}",
    "customer born {x}, ok for alcohol order",
    "ID check ok (geb. {x})",
    "date of birth {x} confirmed via passport",
    "Birthday: {x}",
    "She was born on {x}, so the age gate should let her through",
    "Geburtsdatum {x} laut Ausweis",
    "geboren op {x}",
    "Né le {x}",
    "dob {x} - account unlocked",
]
IP_TEXT = [
    "Login from {x} flagged by fraud rules",
    "3 failed payments from IP {x}",
    "customer's IP {x} geolocates to another country than the billing address",
    "Order placed from {x}, velocity check failed",
    "blocked {x} after 20 password attempts",
    "Session moved from {x} to 10.0.0.14",
    "ip={x} ua=Mozilla/5.0",
    "{x} tried 14 gift cards in 2 minutes",
    "VPN exit node? ({x})",
]

DELIVERY_FILLER = [
    "Leave with neighbour at no. {n}",
    "Gate code 4821#",
    "Deliver between 9:00 and 17:00 please",
    "3rd floor, apt 12B, no lift",
    "Please put it in the green bin by the garage",
    "Achterom via het steegje, blauwe deur",
    "Bitte beim Nachbarn im {n}. Stock abgeben",
    "Do not leave outside, it rains a lot here",
    "Ring twice, the bell is broken",
    "Deposer chez la gardienne svp",
    "Deliver to reception, building B, unit {n}",
    "Safe place: porch",
    "",
    "Parcel locker {n} if nobody home",
    "Please use the side entrance on Kerkstraat {n}",
]
TICKET_FILLER = [
    "Order {o} has not arrived, tracking {t} hasn't moved since {d}",
    "I returned {s} on {d} but got no refund yet ({p})",
    "Invoice {i} shows the wrong VAT number",
    "The coupon {c} doesn't work at checkout",
    "Where is my parcel? Tracking number {t}",
    "Wrong size delivered (EAN {e}), please exchange",
    "Payment reference {psp} - charged {p} but the order is cancelled",
    "App version {v} crashes when I open my orders",
    "Item arrived broken, order {o}, see photos",
    "Hallo, Bestellung {o} ist unvollständig, es fehlt 1x {s}",
    "Mijn bestelling {o} is nog steeds niet verzonden",
    "Refund of {p} for invoice {i} still pending since {d}",
    "Delivery attempted {ts} but I was home all day",
    "Can I change the postcode to {z} for order {o}?",
    "The price dropped to {p} the day after I ordered, can I get the difference?",
]
CHAT_FILLER = [
    "hi, where is my order {o}?",
    "ok thanks!",
    "tracking says delivered but nothing here",
    "can I still cancel {o}",
    "the code {c} gives an error",
    "is {s} back in stock?",
    "i paid {p} but see {p} on my statement",
    "yes that's the one",
    "no the {w} is fine, it's the {w} that's wrong",
    "delivery was {d}, not today",
    "it says error {h}",
    "ok I'll wait until {d}",
    "thx 👍",
]
NOTE_FILLER = [
    "Customer called about order {o}, explained delivery time",
    "Refund {p} approved, ref RF-{n}-{h}",
    "Goodwill coupon {c} sent",
    "Escalated to carrier, tracking {t}",
    "Customer since {d}, VIP tier",
    "Ordered on {d}, shipped {d}",
    "Return received {ts}, condition ok",
    "Replacement {s} shipped, invoice {i}",
    "Duplicate account merged into {h}",
    "Warranty until {d}",
    "Chargeback on PSP ref {psp}, evidence uploaded",
    "Upgraded to app {v} and the issue is gone",
]
PRODUCT_FILLER = [
    "Cotton T-shirt, regular fit, {n} colours. EAN {e}",
    "Solid oak table 120 x 60 x 75 cm, model {s}",
    "Kettle 1.7 l, 2200 W, auto shut-off. Firmware {v}",
    "Wi-Fi 6 router, admin panel at 192.168.1.1, 4 x 1 Gbit/s LAN",
    "First published {d}. Hardcover, 384 pages, ISBN 978-{n}-{n}-{n}-1",
    "Vintage poster, printed on {d}, 50 x 70 cm",
    "Running shoes, drop 8 mm, weight 245 g (size 42)",
    "Cable USB-C to USB-C, 2 m, 100 W, spec rev {v}",
    "Pack of 3, batch {h}, best before {d}",
    "Replacement part {s} fits models 2019-2023",
    "LED bulb E27, 806 lm, 2700 K, 8.5 W, dimmable",
    "Smart plug, supports IPv6, default address fe80::1 in setup mode",
]
REVIEW_FILLER = [
    "Ordered on {d}, arrived two days later. Great!",
    "Size 42 fits well, colour slightly darker than on the photo",
    "5 stars, would buy again",
    "The {w} broke after 3 weeks :(",
    "Good value for {p}",
    "Delivered in a huge box for a tiny {w}",
    "Bought it for my dad's 70th birthday, he loves it",
    "Werkt prima, snelle levering",
    "Nach {n} Tagen kaputt. Nicht zu empfehlen.",
    "Exactly as described.",
    "Works with firmware {v} only after the update",
]


def _mix(n: int, parts: list[tuple[Builder, float]], rest: Builder, g: Gen) -> list[Value]:
    """``n`` values: each builder of ``parts`` in its share of them, ``rest`` in the others."""
    plan: list[Builder] = []
    for builder, share in parts:
        plan += [builder] * max(1, round(share * n))
    plan += [rest] * (n - len(plan))
    g.r.shuffle(plan)
    return [Value(*b(g)) for b in plan]


def _blank_or(builder: Builder, share: float = 0.05) -> Builder:
    """``builder``, or (in ``share`` of cases) an empty or placeholder value."""

    def build(g: Gen) -> tuple[str, frozenset[str]]:
        if g.r.random() < share:
            return g.pick(["", "-", "n/a", "unknown"]), NONE
        return builder(g)

    return build


def _dob_whole(styles: list[str]) -> Builder:
    return _pos(DOB, lambda g: g.date_text(g.birth(), g.pick(styles)))


def _json_profile(g: Gen) -> tuple[str, frozenset[str]]:
    labels: set[str] = set()
    parts = [f'"customer_id": {g.digits(7, "123456789")}']
    if g.r.random() < 0.6:
        parts.append(f'"email": "{g.email()}"')
        labels.add(EMAIL)
    if g.r.random() < 0.5:
        parts.append(f'"phone": "{g.phone()}"')
        labels.add(PHONE)
    if g.r.random() < 0.5:
        parts.append(f'"birthday": "{g.date_text(g.birth(), "iso")}"')
        labels.add(DOB)
    parts.append(f'"tier": "{g.pick(["gold", "silver", "basic"])}"')
    parts.append(f'"signup": "{g.date_text(g.event_date(), "iso")}"')
    return "{" + ", ".join(parts) + "}", frozenset(labels)


def _xff(g: Gen) -> tuple[str, frozenset[str]]:
    first = g.ip()
    return g.pick([first, f"{first}, 10.0.{g.r.randrange(256)}.{g.r.randrange(256)}"]), frozenset(
        {IP}
    )


def columns(n: int, seed: int = SEED) -> list[Column]:
    """The corpus: every column with ``n`` values, deterministic for a ``seed``."""
    g = Gen(seed)
    all_dob = ["iso", "dmy_dot", "dmy_dash", "dmy_slash", "mdy_slash", "long", "us_long",
               "short_month", "dmy_dot_nozero"]  # fmt: skip
    specs: list[tuple[str, str, Callable[[], list[Value]]]] = []

    def whole(name: str, kind: str, builder: Builder) -> None:
        specs.append((name, kind, lambda: [Value(*builder(g)) for _ in range(n)]))

    def mixed(name: str, kind: str, parts: list[tuple[Builder, float]], rest: Builder) -> None:
        specs.append((name, kind, lambda: _mix(n, parts, rest, g)))

    # -- personal data, whole values -----------------------------------------------------
    whole("email", "e-mail, mostly ASCII", _blank_or(_pos(EMAIL, lambda g: g.email(0.1))))
    whole("contact_email", "e-mail, 60% non-ASCII", _pos(EMAIL, lambda g: g.email(0.6)))
    whole("phone", "NL phone, all notations", _pos(PHONE, lambda g: g.phone("NL")))
    whole("mobile", "DE phone, all notations", _pos(PHONE, lambda g: g.phone("DE")))
    whole("telephone", "UK phone, all notations", _pos(PHONE, lambda g: g.phone("UK")))
    whole("phone_number", "US phone, all notations", _pos(PHONE, lambda g: g.phone("US")))
    whole("tel", "FR phone, all notations", _pos(PHONE, lambda g: g.phone("FR")))
    whole(
        "shipping_contact", "phone of any country, no bare digits",
        _blank_or(_pos(PHONE, lambda g: g.phone(bare=False)), 0.1),
    )  # fmt: skip
    whole("card_number", "payment card, 7 networks", _pos(CARD, lambda g: g.card()))
    whole("iban", "IBAN, 8 countries", _pos(IBAN, lambda g: g.iban()))
    whole("refund_account", "IBAN, grouped", _pos(IBAN, lambda g: g.iban(1.0)))
    whole("ssn", "US SSN, dashes/spaces/none", _pos(GOV, lambda g: g.ssn()))
    whole("seller_tin", "US SSN as 1099 TIN, no dashes", _pos(GOV, lambda g: g.ssn("none")))
    whole("date_of_birth", "DOB, ISO", _dob_whole(["iso"]))
    whole("dob", "DOB, US mm/dd/yyyy and mm/dd/yy", _dob_whole(["mdy_slash", "mdy_short"]))
    whole("geburtsdatum", "DOB, dd.mm.yyyy", _dob_whole(["dmy_dot", "dmy_dot_nozero"]))
    whole("birthday", "DOB, month names", _dob_whole(["long", "us_long", "short_month"]))
    whole("birth_date", "DOB, any notation", _dob_whole([*all_dob, "compact"]))
    whole("client_ip", "IPv4", _pos(IP, lambda g: g.ipv4()))
    whole("last_login_ip", "IPv4 or IPv6", _pos(IP, lambda g: g.ip()))
    whole("x_forwarded_for", "client IP list", _xff)
    whole("profile_json", "JSON blob with e-mail/phone/birthday", _json_profile)

    # -- personal data inside text -------------------------------------------------------
    mixed(
        "delivery_instructions", "free text, phone in 35%",
        [(_sentence(PHONE, PHONE_TEXT, lambda g: g.phone()), 0.35)], _filler(DELIVERY_FILLER),
    )  # fmt: skip
    mixed(
        "support_ticket", "free text, e-mail/phone/card/IBAN 12% each",
        [(_sentence(EMAIL, EMAIL_TEXT, lambda g: g.email(0.3)), 0.12),
         (_sentence(PHONE, PHONE_TEXT, lambda g: g.phone(bare=False)), 0.12),
         (_sentence(CARD, CARD_TEXT, lambda g: g.card()), 0.12),
         (_sentence(IBAN, IBAN_TEXT, lambda g: g.iban(0.7)), 0.12)],
        _filler(TICKET_FILLER),
    )  # fmt: skip
    mixed(
        "chat_message", "chat, e-mail 15% / phone 15%",
        [(_sentence(EMAIL, EMAIL_TEXT, lambda g: g.email(0.3)), 0.15),
         (_sentence(PHONE, PHONE_TEXT, lambda g: g.phone(bare=False)), 0.15)],
        _filler(CHAT_FILLER),
    )  # fmt: skip
    mixed(
        "customer_note", "CS notes, DOB 15% / IP 15%",
        [(_sentence(DOB, DOB_TEXT, lambda g: g.date_text(g.birth(), g.pick(all_dob))), 0.15),
         (_sentence(IP, IP_TEXT, lambda g: g.ip()), 0.15)],
        _filler(NOTE_FILLER),
    )  # fmt: skip
    mixed(
        "seller_onboarding_comment", "onboarding notes, SSN 20% / IBAN 20%",
        [(_sentence(GOV, SSN_TEXT, lambda g: g.ssn()), 0.2),
         (_sentence(IBAN, IBAN_TEXT, lambda g: g.iban(0.5)), 0.2)],
        _filler(NOTE_FILLER),
    )  # fmt: skip

    mixed(
        "fraud_review", "fraud notes, card 20% / IP 20%",
        [(_sentence(CARD, CARD_TEXT, lambda g: g.card()), 0.2),
         (_sentence(IP, IP_TEXT, lambda g: g.ip()), 0.2)],
        _filler(NOTE_FILLER),
    )  # fmt: skip

    # -- no personal data ----------------------------------------------------------------
    whole("order_id", "order numbers of 5 shapes", _neg(lambda g: g.order_ref()))
    whole("order_number", "10-digit order numbers", _neg(lambda g: g.digits(10, "12")))
    whole(
        "marketplace_order_ref", "3-7-7 marketplace order ids",
        _neg(lambda g: f"{g.digits(3, '1234')}-{g.digits(7)}-{g.digits(7)}"),
    )  # fmt: skip
    whole("sku", "SKUs", _neg(lambda g: g.sku()))
    whole("ean", "EAN-13", _neg(lambda g: g.ean13()))
    whole("gtin", "GTIN-14", _neg(lambda g: "0" + g.ean13()))
    whole("tracking_id", "carrier tracking ids", _neg(lambda g: g.tracking()))
    whole("app_version", "version strings", _neg(lambda g: g.version()))
    whole("invoice_number", "invoice numbers", _neg(lambda g: g.invoice()))
    whole("created_at", "timestamps", _neg(lambda g: g.timestamp()))
    whole("order_date", "event dates, all notations", _neg(lambda g: g.date_text(g.event_date())))
    whole(
        "customer_since", "dates 1-25 years ago",
        _neg(lambda g: g.date_text(TODAY - datetime.timedelta(days=g.r.randrange(365, 9000)))),
    )  # fmt: skip
    whole(
        "first_published", "book publication dates (1930-2020)",
        _neg(lambda g: g.date_text(datetime.date(g.r.randrange(1930, 2021), g.r.randrange(1, 13),
                                                 g.r.randrange(1, 29)))),
    )  # fmt: skip
    whole("price", "prices", _neg(lambda g: g.price()))
    whole("postcode", "postcodes NL/DE/UK/FR/US", _neg(lambda g: g.postcode()))
    whole("request_id", "UUIDs", _neg(lambda g: g.uuid()))
    whole("checksum", "md5/sha1/sha256", _neg(lambda g: g.hexstr(g.r.choice([32, 40, 64]))))
    whole("coupon_code", "coupon codes", _neg(lambda g: g.coupon()))
    whole(
        "payment_reference", "creditor and bank transfer references",
        _neg(lambda g: g.payment_reference()),
    )  # fmt: skip
    whole("psp_reference", "16-digit payment provider refs", _neg(lambda g: g.psp_reference()))
    whole(
        "unix_time", "epoch seconds",
        _neg(lambda g: str(1_600_000_000 + g.r.randrange(170_000_000))),
    )  # fmt: skip
    whole(
        "card_masked", "masked cards",
        _neg(lambda g: g.masked_card()),
    )  # fmt: skip
    whole(
        "email_masked", "masked e-mails and image names",
        _neg(lambda g: g.pick([f"{g.email(0)[0]}***@{g.pick(DOMAINS)}", f"***@{g.pick(DOMAINS)}",
                               f"hero-{g.digits(3)}@2x.png", f"logo@{g.r.randrange(2, 4)}x.webp"])),
    )  # fmt: skip
    whole(
        "weight_dimensions", "sizes and weights",
        _neg(lambda g: g.pick([f"{g.r.randrange(10, 200)} x {g.r.randrange(10, 200)} x "
                               f"{g.r.randrange(5, 90)} cm", f"{g.r.randrange(1, 30000)} g",
                               f"{g.r.randrange(1, 99)}.{g.r.randrange(10)} kg"])),
    )  # fmt: skip
    whole(
        "warehouse_bin", "bin locations",
        _neg(lambda g: f"{g.pick('ABCDEFG')}-{g.digits(2)}-{g.digits(2)}-{g.r.randrange(1, 9)}"),
    )  # fmt: skip
    whole("product_description", "product texts", _filler(PRODUCT_FILLER))
    whole("review_text", "product reviews", _filler(REVIEW_FILLER))
    whole("internal_comment", "CS notes without personal data", _filler(NOTE_FILLER))
    whole("ticket_subject", "tickets without personal data", _filler(TICKET_FILLER))
    whole("delivery_note", "instructions without personal data", _filler(DELIVERY_FILLER))

    return [Column(name, kind, tuple(build())) for name, kind, build in specs]
