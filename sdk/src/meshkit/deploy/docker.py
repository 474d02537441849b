"""The domain's Dockerfile: uv, two stages, the locked dependencies, a non-root user.

The build stage installs what ``uv.lock`` holds with ``uv sync --frozen --no-dev`` (the
dependencies first, in a layer of their own, then the domain's package, editable so its
flows find ``contracts/`` beside ``src/`` as they do in the repository). The runtime stage
copies ``/app`` (code, contracts and virtual environment) into a slim Python image and
runs as user 10001. Credentials of a package index reach ``uv`` as build secrets
(``UV_INDEX_<NAME>_USERNAME`` / ``_PASSWORD``), so no layer holds them.
"""

from __future__ import annotations

import re

from meshkit.deploy.domain import Domain
from meshkit.deploy.manifests import APP_DIR, UID
from meshkit.deploy.settings import DeploySettings

UV_IMAGE = "ghcr.io/astral-sh/uv:0.13.9"
DAGSTER_HOME = "/opt/dagster/dagster_home"


def index_secrets(indexes: list[str]) -> list[tuple[str, str]]:
    """(build secret id, environment variable) of each named index's credentials."""
    pairs = []
    for index in indexes:
        var = "UV_INDEX_" + re.sub(r"[^A-Z0-9]", "_", index.upper())
        for part in ("USERNAME", "PASSWORD"):
            pairs.append((f"{var}_{part}".lower(), f"{var}_{part}"))
    return pairs


def dockerfile(
    domain: Domain, settings: DeploySettings, indexes: list[str], *, dagster_yaml: bool
) -> str:
    """The text of the domain's Dockerfile."""
    base = f"python:{domain.python}-slim-bookworm"
    secrets = index_secrets(indexes)
    secret_mounts = [f"    --mount=type=secret,id={sid},env={var} \\" for sid, var in secrets]
    cache = "RUN --mount=type=cache,target=/root/.cache/uv \\"
    secret_help = (
        [
            "# Package index credentials are build secrets (never in a layer), e.g.",
            f"#     docker build --secret id={secrets[1][0]},env={secrets[1][1]} ...",
        ]
        if secrets
        else []
    )
    copy_readme = ["COPY README.md ./"] if (domain.root / "README.md").is_file() else []
    instance = [f"COPY deploy/dagster.yaml {DAGSTER_HOME}/dagster.yaml"] if dagster_yaml else []
    lines = [
        "# syntax=docker/dockerfile:1.10",
        f"# The image of the {domain.name} domain: its CDC captures, Bytewax flows and Dagster",
        "# code location. Written by `meshkit deploy render`; build from the repository root:",
        "#     docker build -f <this file> -t <image>:<tag> .",
        *secret_help,
        "",
        f"FROM {UV_IMAGE} AS uv",
        "",
        f"FROM {base} AS build",
        "COPY --from=uv /uv /usr/local/bin/uv",
        "ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \\",
        f"    UV_PROJECT_ENVIRONMENT={APP_DIR}/.venv",
        f"WORKDIR {APP_DIR}",
        "# the locked dependencies: a layer that changes only with uv.lock",
        cache,
        "    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \\",
        "    --mount=type=bind,source=uv.lock,target=uv.lock \\",
        *secret_mounts,
        "    uv sync --frozen --no-dev --no-install-project",
        "COPY pyproject.toml uv.lock ./",
        *copy_readme,
        "COPY src ./src",
        "COPY contracts ./contracts",
        "# the domain's package itself (editable: its flows read contracts/ beside src/)",
        cache,
        *secret_mounts,
        "    uv sync --frozen --no-dev",
        "",
        f"FROM {base}",
        f"RUN groupadd --system --gid {UID} meshkit \\",
        f"    && useradd --system --uid {UID} --gid meshkit --home-dir {APP_DIR} \\",
        "       --no-create-home --shell /usr/sbin/nologin meshkit",
        f"COPY --from=build {APP_DIR} {APP_DIR}",
        *instance,
        f"ENV PATH={APP_DIR}/.venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 \\",
        f"    DAGSTER_HOME={DAGSTER_HOME}",
        f"WORKDIR {APP_DIR}",
        f"USER {UID}:{UID}",
        f"EXPOSE {settings.metrics_port}",
        'CMD ["meshkit", "--help"]',
        "",
    ]
    return "\n".join(lines)


DOCKERIGNORE = """\
# What the image build never sends (BuildKit reads <Dockerfile>.dockerignore).
**/__pycache__
**/*.py[cod]
.git
.venv
.state
.dagster
.pytest_cache
.ruff_cache
build
"""
