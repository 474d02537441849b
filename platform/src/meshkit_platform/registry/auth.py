"""API tokens and roles.

A token is ``mkr_<id>_<secret>`` (the secret: 32 random bytes, URL-safe base64). The
registry stores only its SHA-256 (a 256-bit random secret needs no slow hash) and finds
a token by that hash. Roles:

- ``platform-admin``: everything;
- ``domain-owner`` of one domain: publishes that domain's contracts only, reads all;
- ``consumer``: reads.

A request without a valid, unrevoked token is answered 401; a token whose role does
not allow the call, 403.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meshkit_platform.registry import audit
from meshkit_platform.registry.db import ApiToken

Role = Literal["platform-admin", "domain-owner", "consumer"]
ROLES: tuple[Role, ...] = ("platform-admin", "domain-owner", "consumer")
PREFIX = "mkr_"


class TokenError(ValueError):
    """A token cannot be created or revoked as asked."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's id, role and (for a domain owner) domain."""

    token_id: str
    role: Role
    domain: str | None = None

    @property
    def name(self) -> str:
        """How the audit log names the caller."""
        return f"token:{self.token_id}"

    def may_publish(self, domain: str) -> bool:
        """Whether this caller may publish ``domain``'s contracts."""
        return self.role == "platform-admin" or (
            self.role == "domain-owner" and self.domain == domain
        )

    @property
    def is_admin(self) -> bool:
        return self.role == "platform-admin"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, *, name: str, role: str, domain: str | None = None, actor: str = "cli"
) -> tuple[str, str]:
    """Create a token; return ``(id, token)``. The token is shown once and never stored."""
    if role not in ROLES:
        raise TokenError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if role == "domain-owner" and not domain:
        raise TokenError("a domain-owner token needs --domain")
    if role != "domain-owner" and domain:
        raise TokenError(f"a {role} token has no domain; --domain is for domain-owner tokens")
    token_id = secrets.token_hex(6)
    token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    session.add(
        ApiToken(
            id=token_id,
            name=name,
            role=role,
            domain=domain,
            token_hash=_hash(token),
            created_at=datetime.now(UTC),
            revoked_at=None,
        )
    )
    audit.append(
        session,
        actor=actor,
        action="token.create",
        subject=f"token:{token_id}",
        detail={"name": name, "role": role, "domain": domain},
    )
    return token_id, token


def revoke_token(session: Session, token_id: str, *, actor: str = "cli") -> None:
    """Revoke a token by id; ``TokenError`` when there is no such active token."""
    done = session.execute(
        update(ApiToken)
        .where(ApiToken.id == token_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    if done.rowcount == 0:  # type: ignore[attr-defined]
        raise TokenError(f"no active token with id {token_id!r}")
    audit.append(session, actor=actor, action="token.revoke", subject=f"token:{token_id}")


def authenticate(session: Session, token: str) -> Principal | None:
    """The caller a bearer token stands for, or None (unknown, malformed or revoked)."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = session.execute(
        select(ApiToken.id, ApiToken.role, ApiToken.domain).where(
            ApiToken.token_hash == _hash(token), ApiToken.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    role: Role = row.role
    return Principal(row.id, role, row.domain)
