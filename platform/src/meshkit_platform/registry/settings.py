"""Registry settings from ``MESHKIT_REGISTRY_*`` environment variables.

Example: ``MESHKIT_REGISTRY_DATABASE_URL=postgresql://registry@db/registry``. Without a
database URL the command line uses the embedded PostgreSQL of ``meshkit local``.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class RegistrySettings(BaseSettings):
    """Where the catalog is stored and how the service answers."""

    model_config = SettingsConfigDict(env_prefix="MESHKIT_REGISTRY_", frozen=True, extra="ignore")

    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL of the catalog's PostgreSQL database."
    )
    host: str = Field(default="127.0.0.1", description="Address `serve` listens on.")
    port: int = Field(default=8750, ge=1, le=65535, description="Port `serve` listens on.")
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Worker processes `serve` starts on its port (each with its own "
        "database pool of up to 50 connections).",
    )
    answers_cache_bytes: int = Field(
        default=64 * MIB,
        ge=0,
        description="Search pages and lineage graphs each process keeps until the catalog "
        "changes (0: none).",
    )
    max_body_bytes: int = Field(
        default=8 * MIB, ge=1024, description="Larger request bodies are refused with 413."
    )
    token_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a checked token is trusted without asking the database "
        "(a revoked token stops working within this time; 0: ask every time).",
    )
    max_lineage_bytes: int = Field(
        default=1 * MIB,
        ge=1024,
        description="Larger OpenLineage requests (one event or a batch) are refused with 413.",
    )
    erasure_key: SecretStr | None = Field(
        default=None,
        description="Secret (32+ characters) from which the registry derives the keys that "
        "hash and seal erasure requests' subject ids; without it erasure requests are refused.",
    )
