"""Configuration of the embedded local stack, read from ``MESHKIT_LOCAL_*`` environment variables.

Every field can also be passed as a keyword argument; a port of ``0`` means "pick a free
port when the service starts". Example::

    settings = LocalSettings(state_dir=Path("/tmp/mesh"), kafka_port=19092)

or, from the shell, ``MESHKIT_LOCAL_STATE_DIR=/tmp/mesh MESHKIT_LOCAL_KAFKA_PORT=19092``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_STATE_DIR = Path(".state") / "local"


class LocalSettings(BaseSettings):
    """Where the local stack keeps its data and logs, and which ports it uses."""

    model_config = SettingsConfigDict(env_prefix="MESHKIT_LOCAL_", frozen=True, extra="forbid")

    state_dir: Path = Field(
        default=DEFAULT_STATE_DIR,
        description="Data, logs and run records of every service (relative to the cwd).",
    )
    kafka_port: int = Field(default=0, ge=0, le=65535, description="Kafka listener port; 0 = free")
    postgres_port: int = Field(default=0, ge=0, le=65535, description="PostgreSQL port; 0 = free")
    postgres_url: SecretStr | None = Field(
        default=None,
        description="An existing PostgreSQL to use instead (never started or stopped).",
    )
    search_port: int = Field(default=0, ge=0, le=65535, description="search API port; 0 = free")
    bigquery_port: int = Field(default=0, ge=0, le=65535, description="emulator REST port")
    bigquery_grpc_port: int = Field(default=0, ge=0, le=65535, description="emulator gRPC port")
    bigquery_project: str = Field(default="meshkit-local", description="emulator default project")
    index_port: int = Field(
        default=3141,
        ge=0,
        le=65535,
        description="package index port; fixed by default so domain repos can name the index",
    )
    registry_port: int = Field(default=0, ge=0, le=65535, description="registry API port; 0 = free")
    start_timeout: float = Field(default=60.0, gt=0, description="seconds to wait for health")

    @property
    def root(self) -> Path:
        """The state directory as an absolute path."""
        return self.state_dir.expanduser().resolve()
