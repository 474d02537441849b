"""The one place that decides whether a domain runs locally or in production.

``MESHKIT_ENV`` (``local``, the default, or ``prod``) picks the environment; resources
(:mod:`meshkit.batch.resources`) are chosen from it, so a local run never writes to the
production warehouse. Production credentials are never read here: resources take them
through ``dagster.EnvVar`` so they stay out of definitions and run configuration.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from meshkit.errors import ConfigError

ENV_VAR = "MESHKIT_ENV"
Environment = Literal["local", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("local", "prod")
_ALIASES = {"production": "prod", "dev": "local", "development": "local"}


def current_environment(environ: Mapping[str, str] | None = None) -> Environment:
    """``local`` or ``prod`` from ``MESHKIT_ENV`` (unset or empty: ``local``).

    ``ConfigError`` names the variable and the values it accepts when it holds anything else.
    """
    env = os.environ if environ is None else environ
    raw = env.get(ENV_VAR, "").strip().lower()
    if not raw:
        return "local"
    value = _ALIASES.get(raw, raw)
    if value not in ENVIRONMENTS:
        raise ConfigError(
            f"{ENV_VAR}={env.get(ENV_VAR)!r} is not an environment meshkit knows: "
            f"set it to 'local' (DuckDB, the default) or 'prod' (BigQuery)"
        )
    return value
