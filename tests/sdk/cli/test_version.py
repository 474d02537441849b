"""``meshkit --version`` prints the installed SDK's version; the commands work as before."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

MESHKIT = str(Path(sys.executable).with_name("meshkit"))


def test_version_prints_the_installed_version() -> None:
    proc = subprocess.run([MESHKIT, "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"meshkit {importlib.metadata.version('meshkit')}\n"


def test_commands_still_run_beside_the_version_option() -> None:
    proc = subprocess.run(
        [MESHKIT, "privacy", "keys", "new-master-key"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert len(proc.stdout.strip()) == 44  # base64 of 32 bytes
