"""The domain-facing ``meshkit`` command line (Typer), one module per command group."""

from meshkit.cli.app import app, main

__all__ = ["app", "main"]
