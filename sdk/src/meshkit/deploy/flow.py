"""``python -m meshkit.deploy.flow <module>:flow [options]``: a flow's process in its pod.

It serves ``/metrics``, ``/healthz`` and ``/readyz`` (:mod:`meshkit.observability`) from
the moment the process starts, then runs ``python -m bytewax.run`` with the same
arguments and environment. Bytewax builds a sink partition, where a flow's metrics
server otherwise starts, when the first item reaches it, and only in the process that
owns the partition: an idle flow, or a process owning no sink partition, would answer no
probe, and Kubernetes would restart it for that.

The process registers itself as the health component ``flow process``, ready at once, so
``/readyz`` answers 200 while every sink partition the process has built is ready too.
"""

from __future__ import annotations

import runpy
import sys
from collections.abc import Sequence

from meshkit.errors import MeshkitError
from meshkit.observability import health, observe_process

COMPONENT = "flow process"


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the health and metrics port, then hand over to ``bytewax.run``."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        observe_process()
    except MeshkitError as exc:  # e.g. MESHKIT_METRICS_PORT is not a port
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(1)
    health.ready(COMPONENT)
    sys.argv = ["python -m bytewax.run", *args]
    runpy.run_module("bytewax.run", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
