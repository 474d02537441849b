"""Registry: the platform's catalog of data products, run as ``meshkit-platform registry serve``.

The SDK never imports the platform package: the local stack runs the registry as a child
process, found as the ``meshkit-platform`` executable next to the running Python (the
same virtual environment) or on ``PATH``. When the platform package is not installed the
stack skips the service and ``meshkit local status`` says so. The child keeps its
catalog in the stack's embedded PostgreSQL (a database named ``meshkit_registry``), so
``postgres`` runs whenever the registry does.
"""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from meshkit.errors import ConfigError
from meshkit.local.service import ProcessService

EXECUTABLE = "meshkit-platform"
NOT_INSTALLED = (
    "skipped: the platform package is not installed (no meshkit-platform executable "
    "in this environment or on PATH); install meshkit-platform to run the registry"
)


def platform_executable() -> Path | None:
    """``meshkit-platform`` beside the running interpreter, else on ``PATH``; ``None`` if absent."""
    beside = Path(sys.executable).parent / EXECUTABLE
    if beside.is_file():
        return beside
    found = shutil.which(EXECUTABLE)
    return Path(found) if found else None


class RegistryService(ProcessService):
    """The registry API (FastAPI under uvicorn), its catalog in the embedded PostgreSQL."""

    name = "registry"
    description = "registry API (meshkit-platform registry serve; needs the platform package)"

    @property
    def configured_port(self) -> int:
        return self.settings.registry_port

    def unavailable(self) -> str | None:
        return None if platform_executable() is not None else NOT_INSTALLED

    def address_for(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def env(self) -> Mapping[str, str]:
        # the child runs in the service directory: point it at this stack's PostgreSQL
        return {"MESHKIT_LOCAL_STATE_DIR": str(self.settings.root)}

    def command(self, port: int) -> list[str]:
        executable = platform_executable()
        if executable is None:
            raise ConfigError(NOT_INSTALLED)
        return [
            str(executable), "registry", "serve",
            "--host", self.host, "--port", str(port), "--log-format", "json",
        ]  # fmt: skip

    def probe(self, address: str) -> str:
        with urllib.request.urlopen(f"{address}/readyz", timeout=3) as response:  # noqa: S310
            body = json.loads(response.read() or b"{}")
        status = body.get("status", "ready") if isinstance(body, dict) else "ready"
        return f"registry {status}"
