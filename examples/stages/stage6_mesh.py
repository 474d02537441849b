"""Stage 6, the mesh: a second team consumes another team's product through an access request.

The marketing team finds the loyalty team's product (stage 5) in the registry, previews
field by field what it would get from the serving view, and asks for three fields. The
loyalty team, which owns the data, approves; the platform's ``plan`` / ``apply`` with
the registry's grants gives the group's database role exactly those columns and reports
the grant applied. A person of the marketing team then reads the granted columns and is
refused the rest. Nobody outside the two teams and the platform took part.

    python -m examples.stages.stage6_mesh      # after stage 5
"""

from __future__ import annotations

from typing import Any

import httpx
import psycopg2
from psycopg2 import errors, sql
from psycopg2.extensions import make_dsn, parse_dsn

from examples.stages import _shared as s
from examples.stages.stage5_platform import DOMAIN, PRODUCT, SERVING

ADDRESS = f"{DOMAIN}.{PRODUCT}.v1"
GROUP, PERSON = "marketing", "marketing_ana"
ASKED = [f"{PRODUCT}_id", "country", "birth_date"]


def token(steps: list[tuple[str, str, str, str]], role: str, name: str, *more: str) -> str:
    """A registry token made by the platform (``meshkit-platform registry token create``)."""
    out = s.command(steps, "platform", ["meshkit-platform", "registry", "token", "create",
                    "--role", role, "--name", name, *more], secret=True)  # fmt: skip
    return out.strip().splitlines()[-1]


def as_user(dsn: str, query: sql.Composable) -> str:
    """What ``query`` returns to the login ``dsn`` names, or why it is refused."""
    conn = psycopg2.connect(dsn)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            return f"{len(cur.fetchall())} rows"
    except errors.InsufficientPrivilege as exc:
        return f"refused: {str(exc).splitlines()[0]}"
    finally:
        conn.close()


def run() -> None:
    env = s.stack()
    work = (s.WORKDIR / "stage5").resolve()
    if not (work / "domains" / DOMAIN / "contracts").is_dir():
        raise s.StageError("no loyalty domain: run stage 5 first: "
                           "python -m examples.stages.stage5_platform")  # fmt: skip
    steps: list[tuple[str, str, str, str]] = []
    consumer = token(steps, "consumer", "marketing team")
    owner = token(steps, "domain-owner", "loyalty owner", "--domain", DOMAIN)
    admin = token(steps, "platform-admin", "platform team")

    def call(who: str, what: str, key: str, method: str, path: str, **kw: Any) -> Any:
        reply = registry.request(method, path, headers={"Authorization": f"Bearer {key}"}, **kw)
        if reply.status_code >= 300:
            raise s.StageError(f"{method} {path}: {reply.status_code} {reply.text[:200]}")
        steps.append((who, f"{method} {path}", "-", what))
        return reply.json()

    # fmt: off
    with httpx.Client(base_url=env.registry, timeout=30) as registry:
        found = call("marketing", "search the catalog", consumer, "GET", "/v1/products",
                     params={"q": "loyalty member"})  # fmt: skip
        if ADDRESS not in {item["address"] for item in found["items"]}:
            raise s.StageError(f"{ADDRESS} is not registered: run stage 5 first")
        preview = call("marketing", "what each field would be", consumer, "GET",
                       f"/v1/products/{ADDRESS}/access-preview",
                       params={"port": "serving_view", "field": ASKED})
        request = call("marketing", f"ask for {', '.join(ASKED)}", consumer, "POST",
                       f"/v1/products/{ADDRESS}/access-requests",
                       json={"purpose": "loyalty campaign by country and age", "grantee": GROUP,
                             "ports": ["serving_view"], "fields": ASKED, "days": 30})
        decide = f"/v1/access-requests/{request['id']}/approve"
        call("loyalty team", "approve", owner, "POST", decide,
             json={"reason": "no personal data in clear", "days": 30})  # fmt: skip
        serving = s.ensure_database(env.postgres, SERVING)
        targets = ["--kafka", env.kafka, "--warehouse", str(env.warehouse), "--search",
                   env.search, "--postgres", serving, "--source", env.postgres]
        grants = {"MESHKIT_REGISTRY_TOKEN": admin}
        plan = work / "plan-grants.json"
        domains = str(work / "domains")
        s.command(steps, "platform", ["meshkit-platform", "plan", "--domains", domains,
                  "--out", str(plan), *targets], ok=(0, 2), env=grants,
                  shown="meshkit-platform plan --domains domains --out plan.json")
        s.command(steps, "platform", ["meshkit-platform", "apply", str(plan), *targets],
                  env=grants, shown="meshkit-platform apply plan.json")
        state = call("marketing", "the grant's state", consumer, "GET",
                     f"/v1/access-requests/{request['id']}")["grants"][0]["applied"]
    # fmt: on
    s.show(
        "stage 6: marketing consumes the loyalty team's product",
        ("who", "what", "s", "outcome"),
        steps,
    )
    fields = [f for port in preview["ports"] for f in port["fields"]]
    s.show(
        f"stage 6: the preview of {ADDRESS} (serving view)",
        ("field", "treatment", "asked"),
        [(f["path"], f["treatment"], "yes" if f["requested"] else "") for f in fields],
    )

    s.say(f"{PERSON} reads the serving view")
    role = f"meshkit_reader_{GROUP}"  # the platform puts a person in the reader group
    admin_conn = psycopg2.connect(serving)
    admin_conn.autocommit = True
    with admin_conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (PERSON,))
        if cur.fetchone() is None:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(PERSON)))
        cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(role), sql.Identifier(PERSON)))
    admin_conn.close()
    ana = str(make_dsn(**{**parse_dsn(serving), "user": PERSON}))
    view = sql.Identifier("public", ADDRESS)
    granted = sql.SQL(", ").join(map(sql.Identifier, ASKED))
    s.show(
        f"stage 6: {PERSON} (group {GROUP}, grant {state}) reads {ADDRESS}",
        ("query", "result"),
        [
            (
                f"SELECT {', '.join(ASKED)}",
                as_user(ana, sql.SQL("SELECT {} FROM {}").format(granted, view)),
            ),
            ("SELECT email", as_user(ana, sql.SQL("SELECT email FROM {}").format(view))),
            ("SELECT *", as_user(ana, sql.SQL("SELECT * FROM {}").format(view))),
        ],
    )


if __name__ == "__main__":
    s.main(run)
