"""``meshkit flow run MODULE:ATTR``: run a domain's Bytewax dataflow, show its progress, stop
it cleanly.

The flow runs in this process on the Bytewax runtime (:mod:`meshkit.streaming.runner`,
the options of ``python -m bytewax.run``). Every ``--progress-interval`` seconds the
command shows, per product, the changes in, written by each port, dead letters, skipped
and the rate, read from the flow's Prometheus metrics (:mod:`meshkit.observability.totals`):
a live table on a terminal, one line per product otherwise (a JSON log line with
``--log-format json``). SIGINT (Ctrl-C) or SIGTERM ends every input of the flow: Bytewax
finishes the epoch, the ports flush and close, the command prints a one-line summary and
exits 0. A second signal aborts the flow the way Bytewax does by itself (exit 1).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from bytewax.errors import BytewaxRuntimeError
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from meshkit.errors import ConfigError
from meshkit.observability import PORT_ENV, observe_process, port_from_env
from meshkit.observability.logs import LEVEL_ENV
from meshkit.observability.logs import log_format as log_format_of
from meshkit.observability.totals import FlowTotals, ProductTotals, flow_totals
from meshkit.streaming.runner import RunOptions, locate, run

flow_app = typer.Typer(
    name="flow",
    help="Run a domain's streaming dataflow (Bytewax) with progress and a clean stop.",
    no_args_is_help=True,
)
_out = Console(highlight=False, soft_wrap=True)
_err = Console(stderr=True, highlight=False, soft_wrap=True)
log = logging.getLogger("meshkit.flow")


def register(app: typer.Typer) -> None:
    app.add_typer(flow_app)


def _seconds(value: float, option: str) -> timedelta:
    if value <= 0:
        raise ConfigError(f"{option} {value:g}: a number of seconds above 0")
    return timedelta(seconds=value)


def _addresses(value: str | None) -> tuple[str, ...]:
    return tuple(a.strip() for a in (value or "").split(";") if a.strip())


def _written(p: ProductTotals) -> str:
    return ", ".join(f"{port} {n:,}" for port, n in sorted(p.written.items())) or "0"


def _grown(now: ProductTotals, before: ProductTotals | None) -> ProductTotals:
    """What grew from ``before`` to ``now``."""
    b = before or ProductTotals()
    return ProductTotals(
        received=now.received - b.received,
        written={p: n - b.written.get(p, 0) for p, n in now.written.items()},
        dead_letters=now.dead_letters - b.dead_letters,
        skipped=now.skipped - b.skipped,
    )


def _line(name: str, now: ProductTotals, before: ProductTotals | None, seconds: float) -> str:
    d = _grown(now, before)
    written = " ".join(f"{port} +{n:,}" for port, n in sorted(d.written.items())) or "+0"
    return (
        f"{name}, last {seconds:,.0f} s: in +{d.received:,} ({d.received / seconds:,.0f}/s), "
        f"written {written}, dead letters +{d.dead_letters:,}, skipped +{d.skipped:,} · "
        f"in all: in {now.received:,}, dead letters {now.dead_letters:,}"
    )


def _table(now: FlowTotals, before: FlowTotals, seconds: float, elapsed: float) -> Table:
    table = Table(
        title=f"flow after {elapsed:,.0f} s (the last {seconds:,.0f} s, and in all)",
        title_justify="left",
    )
    for column in ("product", "in", "in/s", "written", "dead letters", "skipped", "in (all)"):
        table.add_column(column, justify="left" if column in {"product", "written"} else "right")
    for name, p in sorted(now.products.items()):
        d = _grown(p, before.products.get(name))
        written = ", ".join(f"{port} +{n:,}" for port, n in sorted(d.written.items()))
        table.add_row(
            name, f"+{d.received:,}", f"{d.received / seconds:,.0f}", written or "+0",
            f"+{d.dead_letters:,}", f"+{d.skipped:,}", f"{p.received:,}",
        )  # fmt: skip
    if not now.products:
        table.add_row("(no records yet)", "", "", "", "", "", "")
    if now.lag is not None:
        table.caption = f"input lag: {now.lag:,} messages"
        table.caption_justify = "left"
    return table


class _Progress:
    """Shows the flow's totals every ``interval`` seconds until ``close``."""

    def __init__(self, interval: float, fmt: str, live: Live | None) -> None:
        self.interval = interval
        self.fmt = fmt
        self.live = live
        self.started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="flow progress", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._done.set()
        if self._thread.is_alive():  # not started when the flow could not be found
            self._thread.join(5)

    def _loop(self) -> None:
        before, at = flow_totals(), time.monotonic()
        while not self._done.wait(self.interval):
            now, t = flow_totals(), time.monotonic()
            self._show(now, before, max(t - at, 1e-3), t - self.started)
            before, at = now, t

    def _show(self, now: FlowTotals, before: FlowTotals, seconds: float, elapsed: float) -> None:
        if self.live is not None:
            self.live.update(_table(now, before, seconds, elapsed), refresh=True)
            return
        lines = [
            _line(name, p, before.products.get(name), seconds)
            for name, p in sorted(now.products.items())
        ] or ["no records yet"]
        if now.lag is not None:
            lines[-1] += f" · input lag {now.lag:,}"
        for text in lines:
            if self.fmt == "json":
                log.info("progress %s", text)
            else:
                _out.print(Text(f"progress {text}"))


def _summary(totals: FlowTotals) -> str:
    parts = [
        f"{name} in {p.received:,}, written {_written(p)}, dead letters {p.dead_letters:,}, "
        f"skipped {p.skipped:,}"
        for name, p in sorted(totals.products.items())
    ]
    return "; ".join(parts) or "no records"


def _say(fmt: str, text: str, level: int = logging.INFO) -> None:
    """One line on stderr, or a log line when the log is JSON (every line of it is)."""
    if fmt == "json":
        log.log(level, "%s", text)
    else:
        _err.print(Text(text))


def _logging(metrics_port: str | None, log_format: str | None) -> str:
    """Logs and the metrics port as ``meshkit cdc run`` sets them; the chosen format."""
    chosen = log_format_of(log_format)
    level = os.environ.get(LEVEL_ENV) or ("INFO" if chosen == "json" else "WARNING")
    if metrics_port is None and PORT_ENV not in os.environ:  # the default port, if free
        observe_process(log_format=chosen, level=level)
    elif (port := port_from_env({PORT_ENV: metrics_port or os.environ[PORT_ENV]})) is None:
        observe_process(log_format=chosen, level=level, metrics=False)  # off
    else:
        observe_process(port=port, log_format=chosen, level=level)
    return chosen


@flow_app.command("run")
def run_flow(
    target: Annotated[
        str,
        typer.Argument(
            metavar="MODULE:ATTR",
            help="the dataflow, e.g. orders.flow:flow (a function is called for it)",
        ),
    ],
    workers_per_process: Annotated[
        int,
        typer.Option(
            "--workers-per-process",
            "-w",
            envvar="BYTEWAX_WORKERS_PER_PROCESS",
            help="worker threads in this process",
        ),
    ] = 1,
    process_id: Annotated[
        int | None,
        typer.Option(
            "--process-id",
            "-i",
            envvar="BYTEWAX_PROCESS_ID",
            help="this process's index in a cluster (with --addresses)",
        ),
    ] = None,
    addresses: Annotated[
        str | None,
        typer.Option(
            "--addresses",
            "-a",
            envvar="BYTEWAX_ADDRESSES",
            help="host:port of every process of the cluster, separated by ';'",
        ),
    ] = None,
    snapshot_interval: Annotated[
        float,
        typer.Option(
            "--snapshot-interval",
            "-s",
            envvar="BYTEWAX_SNAPSHOT_INTERVAL",
            help="seconds per epoch: ports flush and, with recovery, state is "
            "snapshotted at its end",
        ),
    ] = 10.0,
    recovery_directory: Annotated[
        Path | None,
        typer.Option(
            "--recovery-directory",
            "-r",
            envvar="BYTEWAX_RECOVERY_DIRECTORY",
            help="Bytewax recovery partitions (python -m bytewax.recovery DIR N): "
            "a restart resumes from the last snapshot",
        ),
    ] = None,
    backup_interval: Annotated[
        float,
        typer.Option(
            "--backup-interval",
            "-b",
            envvar="BYTEWAX_RECOVERY_BACKUP_INTERVAL",
            help="seconds to keep older snapshots (for backups of the recovery directory)",
        ),
    ] = 0.0,
    progress_interval: Annotated[
        float, typer.Option("--progress-interval", help="seconds between progress reports")
    ] = 10.0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress reports")] = False,
    metrics_port: Annotated[
        str | None,
        typer.Option(
            "--metrics-port",
            help="/metrics, /healthz and /readyz on this port, or off "
            "(default: MESHKIT_METRICS_PORT, else 9464)",
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option("--log-format", help="console | json (default: MESHKIT_LOG_FORMAT)"),
    ] = None,
) -> None:
    """Run the dataflow until it ends or SIGTERM / Ctrl-C, then flush its ports and stop."""
    interval = _seconds(progress_interval, "--progress-interval").total_seconds()
    if backup_interval < 0:
        raise ConfigError(f"--backup-interval {backup_interval:g}: 0 seconds or more")
    options = RunOptions(
        workers_per_process=workers_per_process,
        process_id=process_id,
        addresses=_addresses(addresses),
        snapshot_interval=_seconds(snapshot_interval, "--snapshot-interval"),
        recovery_directory=recovery_directory,
        backup_interval=timedelta(seconds=backup_interval),
    )
    options.check()
    chosen = _logging(metrics_port, log_format)
    stop = threading.Event()
    received: list[str] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        received.append(signal.Signals(signum).name)
        if len(received) > 1:
            raise KeyboardInterrupt  # Bytewax's abort
        stop.set()
        _say(chosen, f"{received[0]}: stopping the flow (its inputs end, its ports flush); "
             "a second signal aborts it")  # fmt: skip

    # before the flow is built (importing and building it can take seconds)
    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    live = Live(Text("flow starting"), console=_out, auto_refresh=False) if (
        not quiet and chosen == "console" and _out.is_terminal
    ) else None  # fmt: skip
    progress = None if quiet else _Progress(interval, chosen, live)
    aborted = False
    started = time.monotonic()
    try:
        flow = locate(target)
        if live is not None:
            live.start()
        if progress is not None:
            progress.start()
        if not stop.is_set():
            run(flow, options, stop)
    except (BytewaxRuntimeError, KeyboardInterrupt):
        if len(received) < 2:
            raise
        aborted = True
    finally:
        if progress is not None:
            progress.close()
        if live is not None:
            live.stop()
        for s, handler in previous.items():
            signal.signal(s, handler)
    how = (
        f"aborted on a second {received[-1]}" if aborted
        else f"stopped on {received[0]}" if received else "ended"
    )  # fmt: skip
    summary = f"flow {how} after {time.monotonic() - started:,.0f} s: {_summary(flow_totals())}"
    _say(chosen, summary, logging.WARNING if aborted else logging.INFO)
    if aborted:
        raise typer.Exit(1)
