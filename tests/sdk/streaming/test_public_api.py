"""meshkit.streaming's public face: every exported name resolves, sorted, nothing private."""

from __future__ import annotations

import importlib

import pytest

import meshkit.streaming as streaming
from meshkit.errors import ConfigError


def test_exports_resolve_and_are_sorted() -> None:
    assert streaming.__all__ == sorted(streaming.__all__)
    for name in streaming.__all__:
        assert not name.startswith("_")
        assert getattr(streaming, name) is not None


def test_declarative_entry_point_needs_a_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESHKIT_STREAMING_CONTRACT", raising=False)
    declarative = importlib.import_module("meshkit.streaming.declarative")
    with pytest.raises(ConfigError, match="MESHKIT_STREAMING_CONTRACT"):
        _ = declarative.flow
