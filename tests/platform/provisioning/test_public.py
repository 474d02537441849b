"""The package's public face: every exported name resolves, nothing private leaks."""

from __future__ import annotations

import meshkit_platform.provisioning as provisioning


def test_exported_names_resolve_and_are_public() -> None:
    assert provisioning.__all__ == sorted(provisioning.__all__)
    for name in provisioning.__all__:
        assert not name.startswith("_")
        assert getattr(provisioning, name) is not None
