"""Index: the company package index of the local stack (pypiserver, a real PyPI server).

The platform team releases the SDK into it (``meshkit-platform sdk release --index
local``) and domain repositories install ``meshkit`` from it through uv's index
configuration, exactly as they do from the production index (Artifact Registry, devpi,
Nexus, a private PyPI). It listens on a stable port (``MESHKIT_LOCAL_INDEX_PORT``, default
3141), so the template's default answer can name it: ``http://127.0.0.1:3141/simple/``.

Uploads need a user and password; downloads do not. On first start the service writes
them under ``<state_dir>/index/`` (``credentials.json``, mode 0600, and the
``htpasswd`` file the server reads); :meth:`PackageIndex.credentials` reads them back.
Packages live in ``<state_dir>/index/packages`` and survive restarts. The server never
falls back to pypi.org for a name it does not have.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from meshkit.errors import ServiceError
from meshkit.files import write_private
from meshkit.local.service import ProcessService

#: The user that may upload to the local index.
UPLOAD_USER = "meshkit"


@dataclass(frozen=True)
class IndexCredentials:
    """Who may upload to the local index."""

    username: str
    password: str


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with a file readable by its owner only from creation, holding ``text``."""
    write_private(path, text)


class PackageIndex(ProcessService):
    """pypiserver: serves ``<state_dir>/index/packages``; uploads need the stack's password."""

    name = "index"
    description = "package index (pypiserver): where the SDK is released, domains install it"

    @property
    def configured_port(self) -> int:
        return self.settings.index_port

    @property
    def packages_dir(self) -> Path:
        """Where uploaded distributions are kept."""
        return self.directory / "packages"

    @property
    def credentials_path(self) -> Path:
        """The upload user and password (mode 0600)."""
        return self.directory / "credentials.json"

    @property
    def htpasswd_path(self) -> Path:
        """The password file the server checks uploads against."""
        return self.directory / "htpasswd"

    def address_for(self, port: int) -> str:
        return f"http://{self.host}:{port}"

    def simple_url(self) -> str | None:
        """The index URL installers use (``…/simple/``), when the index has been started."""
        address = self.address()
        return f"{address}/simple/" if address else None

    def credentials(self) -> IndexCredentials:
        """The upload credentials, created on first use."""
        try:
            data = json.loads(self.credentials_path.read_text(encoding="utf-8"))
            return IndexCredentials(str(data["username"]), str(data["password"]))
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ServiceError(
                f"index: unreadable credentials file {self.credentials_path} ({exc}); "
                "delete it and run 'meshkit local up' again to create new ones"
            ) from None
        self.directory.mkdir(parents=True, exist_ok=True)
        creds = IndexCredentials(UPLOAD_USER, secrets.token_urlsafe(24))
        _write_private(
            self.credentials_path,
            json.dumps({"username": creds.username, "password": creds.password}) + "\n",
        )
        return creds

    def _write_htpasswd(self) -> None:
        creds = self.credentials()
        # Apache's {SHA} form, which the server's passlib reads: a random 32-character
        # password on a loopback-only development index, never a production secret.
        digest = hashlib.sha1(creds.password.encode(), usedforsecurity=False).digest()
        _write_private(
            self.htpasswd_path, f"{creds.username}:{{SHA}}{base64.b64encode(digest).decode()}\n"
        )

    def command(self, port: int) -> list[str]:
        self.packages_dir.mkdir(parents=True, exist_ok=True)
        self._write_htpasswd()
        return [
            sys.executable, "-m", "pypiserver", "run",
            "--host", self.host, "--port", str(port),
            "--authenticate", "update", "--passwords", str(self.htpasswd_path),
            "--disable-fallback", "--hash-algo", "sha256",
            str(self.packages_dir),
        ]  # fmt: skip

    def probe(self, address: str) -> str:
        url = f"{address}/simple/"
        if not url.startswith("http://"):
            raise ServiceError(f"index: not an http address: {address}")
        with urllib.request.urlopen(url, timeout=3) as response:  # noqa: S310 (http only)
            body = response.read().decode("utf-8", errors="replace")
        count = body.count("<a ")
        return f"pypiserver, {count} package(s), {url}"
