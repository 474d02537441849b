"""Which local stack a command means: the one named, else one running here, else the one
the last ``meshkit local up`` started (remembered in the user's state directory).

So ``status``, ``env`` and ``down`` work from any directory, and ``up`` run where no stack
is adds its services to the running one instead of starting a second stack (which would
fight the first for the package index's fixed port).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

from meshkit.local.settings import LocalSettings
from meshkit.local.stack import SERVICES, LocalStack


def pointer_path() -> Path:
    """The file naming the state directory of the stack ``up`` started last."""
    return Path(platformdirs.user_state_dir("meshkit")) / "local-stack"


def remember(root: Path) -> None:
    """Record ``root`` as the current stack's state directory."""
    with contextlib.suppress(OSError):  # a read-only home only loses the convenience
        pointer = pointer_path()
        pointer.parent.mkdir(parents=True, exist_ok=True)
        pointer.write_text(f"{root}\n", encoding="utf-8")


def forget(root: Path) -> None:
    """Drop the record when it names ``root`` (after ``down``)."""
    with contextlib.suppress(OSError):
        pointer = pointer_path()
        if pointer.read_text(encoding="utf-8").strip() == str(root):
            pointer.unlink()


def _running(settings: LocalSettings) -> bool:
    stack = LocalStack(settings)
    return any(stack.service(name).record() is not None for name in SERVICES)


def existing_settings(state_dir: Path | None = None) -> LocalSettings:
    """The settings of the stack meant: named, else running here, else the last ``up``'s
    (when it still runs), else a new one here. Raises pydantic's ``ValidationError`` on
    bad ``MESHKIT_LOCAL_*`` values."""
    settings = LocalSettings(state_dir=state_dir) if state_dir is not None else LocalSettings()
    if state_dir is not None or os.environ.get("MESHKIT_LOCAL_STATE_DIR"):
        return settings
    if _running(settings):
        return settings
    try:
        remembered = Path(pointer_path().read_text(encoding="utf-8").strip())
    except OSError:
        return settings
    if remembered.is_absolute() and remembered != settings.root:
        other = LocalSettings(state_dir=remembered)
        if _running(other):
            return other
    return settings
