"""The generic entry point of declarative flows (no code per product).

Run ``python -m bytewax.run meshkit.streaming.declarative:flow``.

The contract comes from ``MESHKIT_STREAMING_CONTRACT`` (a path), the flow's own settings
from the other ``MESHKIT_STREAMING_*`` variables and the backends from the domain's
settings (``meshkit.settings``; see ``meshkit.streaming.flows``). Or
call ``get_flow(path)`` with Bytewax's function form:
``python -m bytewax.run "meshkit.streaming.declarative:get_flow('contracts/x.yaml')"``.
"""

from __future__ import annotations

import os
from pathlib import Path

from bytewax.dataflow import Dataflow
from pydantic import ValidationError

from meshkit.contracts.loader import load_contract
from meshkit.errors import ConfigError
from meshkit.streaming.flows import StreamingSettings, build_flow


def flow_settings() -> StreamingSettings:
    """The flow's settings from ``MESHKIT_STREAMING_*``; ``ConfigError`` names each bad
    variable and what it expects, never its value."""
    try:
        return StreamingSettings()
    except ValidationError as exc:
        problems = [
            f"MESHKIT_STREAMING_{str(e['loc'][0]).upper() if e['loc'] else '*'}: "
            + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        ]
        # not chained: the validation error holds the values
        raise ConfigError("\n".join(problems)) from None


def get_flow(contract: str | Path | None = None) -> Dataflow:
    """The declarative flow of the contract at ``contract`` (default: from the environment)."""
    settings = flow_settings()
    path = contract or settings.contract
    if path is None:
        raise ConfigError(
            "no contract: set MESHKIT_STREAMING_CONTRACT to the contract's path, or run "
            "\"meshkit.streaming.declarative:get_flow('contracts/<product>.yaml')\""
        )
    return build_flow(load_contract(path), settings)


def __getattr__(name: str) -> Dataflow:
    """``flow`` is built when Bytewax asks for it, so importing this module is free."""
    if name == "flow":
        return get_flow(os.environ.get("MESHKIT_STREAMING_CONTRACT"))
    raise AttributeError(name)
