"""Run the ``bqemulator`` BigQuery emulator without DuckDB's spatial extension.

As shipped, the emulator refuses to start when DuckDB's ``spatial`` extension cannot be
downloaded. This launcher replaces that step with one that loads the extension only if
it is already installed locally and otherwise logs that GEOGRAPHY is unavailable; it
never downloads anything. Everything else is the emulator's own ``start`` command::

    python -m meshkit.local.bigquery_launcher --rest-port 9050 --grpc-port 9060
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

_log = logging.getLogger("meshkit.local.bigquery")


def _load_spatial_if_present(self: Any) -> None:
    try:
        self._connection.execute("LOAD spatial")
    except Exception as exc:  # the extension is optional here: GEOGRAPHY is off without it
        _log.warning("DuckDB spatial extension not available, GEOGRAPHY disabled: %s", exc)


def main(argv: list[str] | None = None) -> None:
    """Patch the spatial-extension loading, then run ``bqemulator start`` with ``argv``."""
    from bqemulator.cli import main as emulator_main
    from bqemulator.storage.engine import DuckDBEngine

    DuckDBEngine._load_spatial = _load_spatial_if_present  # type: ignore[method-assign]
    # The avro extension would also be downloaded at start-up; skip it (load jobs of
    # CSV/JSON/Parquet do not need it).
    os.environ.setdefault("BQEMU_ENABLE_FORMAT_EXTENSIONS", "false")
    args = sys.argv[1:] if argv is None else argv
    emulator_main(["start", *args], prog_name="bqemulator")


if __name__ == "__main__":
    main()
