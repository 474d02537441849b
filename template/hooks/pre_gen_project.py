# ruff: noqa: F821, T201 - cookiecutter renders this file first (its placeholders look undefined)
"""Reject bad answers before anything is generated, with a message saying what to type."""

import keyword
import re
import sys
from pathlib import Path

ANSWERS = {
    "domain_name": {{cookiecutter.domain_name | tojson}},
    "project_slug": {{cookiecutter.project_slug | tojson}},
    "description": {{cookiecutter.description | tojson}},
    "owner_team": {{cookiecutter.owner_team | tojson}},
    "owner_contact": {{cookiecutter.owner_contact | tojson}},
    "product_name": {{cookiecutter.product_name | tojson}},
    "source_database": {{cookiecutter.source_database | tojson}},
    "source_table": {{cookiecutter.source_table | tojson}},
    "meshkit_version": {{cookiecutter.meshkit_version | tojson}},
    "package_index": {{cookiecutter.package_index | tojson}},
    "meshkit_path": {{cookiecutter.meshkit_path | tojson}},
}
PACKAGE = {{cookiecutter.__package_name | tojson}}

PG_NAME_MAX = 63  # PostgreSQL identifiers (database, table, replication slot)
SLOT_PREFIX = "meshkit_"  # meshkit cdc's default slot and publication: meshkit_<domain>
SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SQL_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
INDEX_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
VERSION = re.compile(r"^\d+\.\d+(\.\d+)?([a-z]+\d+)?$")
TEAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$")
# Names meshkit, Dagster, Bytewax or Python already use: a domain called so would shadow them.
RESERVED = {
    "meshkit", "meshkit_platform", "platform", "dagster", "bytewax", "kafka", "duckdb",
    "pyarrow", "pytest", "test", "tests", "src", "sdk", "template", "domains", "cdc",
    "contracts", "defs", "flow", "definitions", "main", "deadletter", "setup", "site",
}  # fmt: skip


def problems() -> list[str]:
    a = ANSWERS
    found: list[str] = []
    if not a["domain_name"].strip():
        found.append("domain_name: empty; give the domain's name in words, e.g. 'Customers'")
    if not SLUG.match(a["project_slug"]):
        slug = a["project_slug"]
        why = (
            "the domain name has no letters or digits to make it from" if not slug
            else "it starts with a digit" if slug[0].isdigit()
            else "it has characters other than lowercase letters, digits and single dashes"
        )  # fmt: skip
        found.append(
            f"project_slug {slug!r}: {why}; expected lowercase letters and digits in words "
            "joined by single dashes, starting with a letter (e.g. 'order-fulfilment'); give "
            "project_slug, or a domain name that starts with a letter"
        )
    elif len(SLOT_PREFIX + PACKAGE) > PG_NAME_MAX:
        found.append(
            f"project_slug {a['project_slug']!r}: too long ({len(PACKAGE)} characters); the "
            f"replication slot '{SLOT_PREFIX}<domain>' must fit PostgreSQL's {PG_NAME_MAX}-"
            f"character names, so the domain may have at most {PG_NAME_MAX - len(SLOT_PREFIX)}; "
            "give a shorter project_slug"
        )
    elif PACKAGE in RESERVED or keyword.iskeyword(PACKAGE) or PACKAGE in sys.stdlib_module_names:
        found.append(
            f"project_slug {a['project_slug']!r}: the package name {PACKAGE!r} is reserved "
            "(a Python module or a name meshkit, Dagster or Bytewax uses); choose another, "
            f"e.g. '{a['project_slug']}-domain'"
        )
    if not a["description"].strip() or "\n" in a["description"]:
        found.append("description: expected one non-empty line")
    if not TEAM.match(a["owner_team"]):
        found.append(
            f"owner_team {a['owner_team']!r}: expected a team name of letters, digits, "
            "spaces, dots, dashes or underscores (e.g. 'customer-data')"
        )
    if not EMAIL.match(a["owner_contact"]):
        found.append(
            f"owner_contact {a['owner_contact']!r}: not an e-mail address; expected "
            "name@host.tld, e.g. 'customer-data@example.com'"
        )
    if not NAME.match(a["product_name"]):
        found.append(
            f"product_name {a['product_name']!r}: expected lowercase letters, digits and "
            "underscores, starting with a letter (e.g. 'customer')"
        )
    elif a["product_name"] in RESERVED or keyword.iskeyword(a["product_name"]):
        found.append(f"product_name {a['product_name']!r}: reserved; choose another name")
    for key in ("source_database", "source_table"):
        if not SQL_NAME.match(a[key]):
            found.append(
                f"{key} {a[key]!r}: expected an unquoted PostgreSQL name (lowercase letters, "
                "digits, underscores)"
            )
        elif len(a[key]) > PG_NAME_MAX:
            found.append(
                f"{key} {a[key]!r}: too long ({len(a[key])} characters); PostgreSQL names "
                f"have at most {PG_NAME_MAX}"
            )
    if not VERSION.match(a["meshkit_version"]):
        found.append(
            f"meshkit_version {a['meshkit_version']!r}: expected a version such as '0.1.0'"
        )
    if not INDEX_URL.match(a["package_index"]):
        found.append(
            f"package_index {a['package_index']!r}: expected the http(s) URL of the package "
            "index meshkit is released to, e.g. 'http://127.0.0.1:3141/simple/' (the local "
            "stack's) or your company index's simple URL"
        )
    if a["meshkit_path"] and not (Path(a["meshkit_path"]) / "pyproject.toml").is_file():
        found.append(
            f"meshkit_path {a['meshkit_path']!r}: no pyproject.toml there (the path is "
            "relative to the generated repository); leave it empty to install meshkit from "
            "the package index"
        )
    return found


def main() -> int:
    found = problems()
    for problem in found:
        print(f"error: {problem}", file=sys.stderr)
    if found:
        print(f"{len(found)} bad answer(s); nothing was generated.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
