"""Where a domain's erasure worker finds the registry, its key store and its ports.

Environment variables: ``MESHKIT_REGISTRY_URL`` and ``MESHKIT_REGISTRY_TOKEN`` (a
domain-owner token of the domain), and for the ports the same variables as the domain's
streaming flow (``MESHKIT_STREAMING_BROKERS``, ``_WAREHOUSE``, ``_SEARCH_URL``,
``_VIEW_DSN``, ``_KEYSTORE_DIR``), each overridable as ``MESHKIT_ERASURE_<NAME>``;
``MESHKIT_ERASURE_PREFIX`` goes in front of topic and search index names.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from meshkit.erasure.ports import PortTargets


def _env(name: str) -> AliasChoices:
    return AliasChoices(f"MESHKIT_ERASURE_{name}", f"MESHKIT_STREAMING_{name}")


class ErasureSettings(BaseSettings):
    """The erasure worker's settings (see the module docstring)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    registry_url: str | None = Field(default=None, validation_alias="MESHKIT_REGISTRY_URL")
    registry_token: SecretStr | None = Field(
        default=None, validation_alias="MESHKIT_REGISTRY_TOKEN"
    )
    brokers: str | None = Field(default=None, validation_alias=_env("BROKERS"))
    warehouse: Path | None = Field(default=None, validation_alias=_env("WAREHOUSE"))
    search_url: str | None = Field(default=None, validation_alias=_env("SEARCH_URL"))
    view_dsn: str | None = Field(default=None, validation_alias=_env("VIEW_DSN"))
    keystore_dir: Path | None = Field(default=None, validation_alias=_env("KEYSTORE_DIR"))
    prefix: str = Field(default="", validation_alias="MESHKIT_ERASURE_PREFIX")

    def targets(self) -> PortTargets:
        return PortTargets(
            brokers=self.brokers,
            warehouse=self.warehouse,
            search_url=self.search_url,
            view_dsn=self.view_dsn,
            prefix=self.prefix,
        )
