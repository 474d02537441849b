"""``meshkit local status`` never shows a secret: an external PostgreSQL's password, or
the domain settings' secrets in the environment it runs in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from psycopg2.extensions import make_dsn, parse_dsn

pytestmark = pytest.mark.services

MESHKIT = str(Path(sys.executable).with_name("meshkit"))
PASSWORD = "pg-pw-5c9e"  # the embedded server trusts local connections: any password works
DOMAIN_SECRETS = {
    "MESHKIT_KAFKA_SASL_PASSWORD": "kafka-pw-0a1b",
    "MESHKIT_SEARCH_API_KEY": "search-key-2c3d",
    "MESHKIT_VIEW_DSN": "postgresql://v:view-pw-4e5f@127.0.0.1/v",
    "MESHKIT_REGISTRY_TOKEN": "registry-token-6a7b",
}


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MESHKIT, "local", *args],
        check=False,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "COLUMNS": "200", **env},
    )


def test_status_shows_no_secret(postgres: str, tmp_path: Path) -> None:
    external = make_dsn(**{**parse_dsn(postgres), "password": PASSWORD})
    url = "postgresql://{user}:{password}@{host}:{port}/{dbname}".format(**parse_dsn(external))
    env = {
        "MESHKIT_LOCAL_STATE_DIR": str(tmp_path / "state"),
        "MESHKIT_LOCAL_POSTGRES_URL": url,
        **DOMAIN_SECRETS,
    }
    up = cli("up", "--only", "postgres", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        status = cli("status", env=env)  # exit 1: the services not started are not healthy
        assert "postgres:***@127.0.0.1" in status.stdout, status.stdout + status.stderr
        assert "(external)" in status.stdout
        shown = up.stdout + up.stderr + status.stdout + status.stderr
        for secret in (PASSWORD, *DOMAIN_SECRETS.values()):
            assert secret not in shown
    finally:
        cli("down", env=env)
