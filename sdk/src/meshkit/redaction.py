"""Passwords out of what meshkit shows: one connection string, or any text.

- :func:`redact_dsn` takes one libpq connection string (URL or ``key=value``) and hides
  its password, whatever its form, well-formed or not;
- :func:`redact_text` hides the password of every connection URL and ``password=``
  setting found anywhere in a text (a message, an error of a driver).

Both replace a password with ``***``; when in doubt they hide more, never less.
"""

from __future__ import annotations

import re

import psycopg2
import psycopg2.extensions

#: What messages show in place of a DSN that libpq cannot parse.
MALFORMED_DSN = "(a DSN that libpq cannot parse, not shown)"
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&]password=)[^&#\s]*", re.IGNORECASE)
# In free text, bounded repeats keep both linear in the length of the text (a 50 MB name
# included).
_TEXT_URL_PASSWORD = re.compile(
    r"(?P<head>[A-Za-z][A-Za-z0-9+.-]{0,30}://[^:/@\s]{0,256}):[^@\s]{0,1024}@"
)
_TEXT_KW_PASSWORD = re.compile(
    r"(?P<head>\bpassword[ \t]{0,8}=[ \t]{0,8})(?:'[^']{0,1024}'|\S+)", re.IGNORECASE
)


def redact_dsn(dsn: str) -> str:
    """The DSN without its password, whatever its form, well-formed or not.

    A URL loses what follows the user name up to the last ``@`` and any ``password=``
    query parameter; a key=value string loses every ``password`` value (quoted or not).
    A key=value string libpq cannot parse is not shown at all (where its password ends is
    anyone's guess).
    """
    if "://" not in dsn:
        try:
            psycopg2.extensions.parse_dsn(dsn)
        except psycopg2.Error:
            return MALFORMED_DSN
    else:
        scheme, _, rest = dsn.partition("://")
        userinfo, at, host = rest.rpartition("@")
        if at and ":" in userinfo:
            rest = userinfo.split(":", 1)[0] + ":***@" + host
        return _QUERY_PASSWORD.sub(r"\g<1>***", f"{scheme}://{rest}")
    return _KV_PASSWORD.sub(r"\g<1>***", dsn)


def redact_text(text: str) -> str:
    """``text`` with the password of every connection URL or ``password=`` setting hidden
    (a URL's user information and a ``password=`` query parameter alike)."""
    text = _TEXT_URL_PASSWORD.sub(r"\g<head>:***@", text)
    text = _QUERY_PASSWORD.sub(r"\g<1>***", text)
    return _TEXT_KW_PASSWORD.sub(r"\g<head>***", text)
