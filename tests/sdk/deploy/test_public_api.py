"""The public face of meshkit.deploy: every exported name resolves, nothing private leaks."""

from __future__ import annotations

from types import ModuleType

import meshkit.deploy as deploy


def test_exports_resolve_and_nothing_private_leaks() -> None:
    assert len(set(deploy.__all__)) == len(deploy.__all__)
    assert deploy.__all__ == sorted(deploy.__all__)
    for name in deploy.__all__:
        assert getattr(deploy, name) is not None
    public = {
        n
        for n, v in vars(deploy).items()
        if not n.startswith("_") and not isinstance(v, ModuleType)
    }
    assert public == set(deploy.__all__)
