"""The public face of meshkit.privacy: every exported name resolves, nothing private leaks."""

from __future__ import annotations

import meshkit.privacy as privacy


def test_exports_resolve_and_nothing_private_leaks() -> None:
    assert len(set(privacy.__all__)) == len(privacy.__all__)
    for name in privacy.__all__:
        assert not name.startswith("_")
        assert getattr(privacy, name) is not None
    public = {n for n in vars(privacy) if not n.startswith("_")}
    modules = {"detectors", "encrypt", "erasure", "errors", "generalize", "keys", "mask"}
    modules |= {"masker", "scanner", "tokenize"}
    assert public - modules == set(privacy.__all__)
