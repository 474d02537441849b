"""Running a dataflow in this process on the Bytewax runtime, stoppable on request.

``locate(target)`` finds the dataflow ``module:attr`` names, as ``python -m bytewax.run``
does (``attr`` defaults to ``flow``; a function is called, with literal arguments when the
target gives them: ``"meshkit.streaming.declarative:get_flow('contracts/x.yaml')"``),
with the current directory on the import path. What cannot be found is a ``ConfigError``
of one line.

``run(flow, options, stop)`` runs it with Bytewax's own ``cli_main`` (the entry point of
``bytewax.run``: workers per process, process id and addresses of a cluster, the epoch
interval, recovery) until the flow ends or ``stop`` is set. Bytewax's own answer to
Ctrl-C is an abort: a Rust panic and a ``BytewaxRuntimeError``. ``run`` stops a flow the
way a flow ends instead: every input of the flow is wrapped (``stoppable``) so that, once
``stop`` is set, each of its partitions reports the end of its input at its next poll.
Bytewax then finishes the epoch, closes every sink partition (the port writers flush
and close) and, with recovery, snapshots where each input stopped, so a restart goes on
from there. In a cluster, each process stops once every process has been asked to.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bytewax._bytewax import cli_main
from bytewax.dataflow import Dataflow, Operator
from bytewax.errors import BytewaxRuntimeError
from bytewax.inputs import (
    DynamicSource,
    FixedPartitionedSource,
    Source,
    StatefulSourcePartition,
    StatelessSourcePartition,
)
from bytewax.recovery import RecoveryConfig

from meshkit.errors import ConfigError, MeshkitError


def locate(target: str) -> Dataflow:
    """The dataflow ``target`` (``module[:attr]``) names; ``ConfigError`` when there is none."""
    module_name, _, expression = target.partition(":")
    module_name, expression = module_name.strip(), (expression or "flow").strip()
    if not module_name or not all(p.isidentifier() for p in module_name.split(".")):
        raise ConfigError(f"flow {target!r}: expected <module>:<attribute>, e.g. orders.flow:flow")
    name, args, kwargs = _parse_expression(target, expression)
    here = str(Path.cwd())
    if "" not in sys.path and here not in sys.path:
        sys.path.insert(0, here)  # as `python -m` does
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise ConfigError(
                f"flow {target!r}: no module {module_name!r} here (is its package installed "
                "in this environment? run it with uv run in the domain repository)"
            ) from None
        raise ConfigError(f"flow {target!r}: importing {module_name} failed: {exc}") from None
    except ImportError as exc:
        raise ConfigError(f"flow {target!r}: importing {module_name} failed: {exc}") from None
    try:
        found = getattr(module, name)
    except AttributeError:
        raise ConfigError(f"flow {target!r}: module {module_name} has no {name!r}") from None
    if inspect.isfunction(found):
        try:
            inspect.signature(found).bind(*args, **kwargs)
        except TypeError as exc:
            raise ConfigError(f"flow {target!r}: cannot call {name}: {exc}") from None
        found = found(*args, **kwargs)
    elif args or kwargs:
        raise ConfigError(f"flow {target!r}: {name} is not a function to call")
    if not isinstance(found, Dataflow):
        raise ConfigError(
            f"flow {target!r}: {module_name}:{name} is a {type(found).__name__}, "
            "not a Bytewax Dataflow"
        )
    return found


def _parse_expression(target: str, expression: str) -> tuple[str, list[Any], dict[str, Any]]:
    """``name`` or ``name(<literals>)``, as ``bytewax.run`` reads it."""
    bad = ConfigError(
        f"flow {target!r}: {expression!r} is not an attribute name or a call of a function "
        "with literal arguments"
    )
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        raise bad from None
    if isinstance(node, ast.Name):
        return node.id, [], {}
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise bad
    try:
        args = [ast.literal_eval(a) for a in node.args]
        kwargs = {str(k.arg): ast.literal_eval(k.value) for k in node.keywords}
    except ValueError:
        raise bad from None
    return node.func.id, args, kwargs


class _StoppableStatefulPartition(StatefulSourcePartition[Any, Any]):
    def __init__(self, inner: StatefulSourcePartition[Any, Any], stop: threading.Event) -> None:
        self._inner = inner
        self._stop = stop

    def next_batch(self) -> Iterable[Any]:
        if self._stop.is_set():
            raise StopIteration
        return self._inner.next_batch()

    def next_awake(self) -> datetime | None:
        return None if self._stop.is_set() else self._inner.next_awake()

    def snapshot(self) -> Any:
        return self._inner.snapshot()

    def close(self) -> None:
        self._inner.close()


class _StoppableFixed(FixedPartitionedSource[Any, Any]):
    def __init__(self, inner: FixedPartitionedSource[Any, Any], stop: threading.Event) -> None:
        self._inner = inner
        self._stop = stop

    def list_parts(self) -> list[str]:
        return self._inner.list_parts()

    def build_part(
        self, step_id: str, for_part: str, resume_state: Any | None
    ) -> _StoppableStatefulPartition:
        inner = self._inner.build_part(step_id, for_part, resume_state)
        return _StoppableStatefulPartition(inner, self._stop)


class _StoppableStatelessPartition(StatelessSourcePartition[Any]):
    def __init__(self, inner: StatelessSourcePartition[Any], stop: threading.Event) -> None:
        self._inner = inner
        self._stop = stop

    def next_batch(self) -> Iterable[Any]:
        if self._stop.is_set():
            raise StopIteration
        return self._inner.next_batch()

    def next_awake(self) -> datetime | None:
        return None if self._stop.is_set() else self._inner.next_awake()

    def close(self) -> None:
        self._inner.close()


class _StoppableDynamic(DynamicSource[Any]):
    def __init__(self, inner: DynamicSource[Any], stop: threading.Event) -> None:
        self._inner = inner
        self._stop = stop

    def build(
        self, step_id: str, worker_index: int, worker_count: int
    ) -> _StoppableStatelessPartition:
        inner = self._inner.build(step_id, worker_index, worker_count)
        return _StoppableStatelessPartition(inner, self._stop)


def _wrap(source: Source[Any], stop: threading.Event) -> Source[Any]:
    if isinstance(source, FixedPartitionedSource):
        return _StoppableFixed(source, stop)
    if isinstance(source, DynamicSource):
        return _StoppableDynamic(source, stop)
    return source  # not a kind of source Bytewax runs


def stoppable(flow: Dataflow, stop: threading.Event) -> int:
    """Wrap every input of ``flow`` (also inside composite operators) so that it ends once
    ``stop`` is set; the number of inputs wrapped.

    The runtime reads each input step's ``source`` when it builds the dataflow, so the
    wrapper is put in its place on the (frozen) step.
    """
    wrapped = 0
    steps: list[Operator] = list(flow.substeps)
    while steps:
        step = steps.pop()
        source = getattr(step, "source", None)  # only an input step has one
        if isinstance(source, Source):
            object.__setattr__(step, "source", _wrap(source, stop))
            wrapped += 1
        steps.extend(step.substeps)
    return wrapped


@dataclass(frozen=True)
class RunOptions:
    """What ``python -m bytewax.run`` takes besides the flow (the same defaults)."""

    workers_per_process: int = 1
    process_id: int | None = None
    addresses: tuple[str, ...] = ()
    snapshot_interval: timedelta = timedelta(seconds=10)
    recovery_directory: Path | None = None
    backup_interval: timedelta = timedelta(0)

    def check(self) -> None:
        """``ConfigError`` for options Bytewax would refuse with a panic."""
        if self.workers_per_process < 1:
            raise ConfigError(f"--workers-per-process {self.workers_per_process}: at least 1")
        if self.process_id is not None and not self.addresses:
            raise ConfigError("--process-id needs --addresses: every process's host:port, in order")
        if self.process_id is not None and not 0 <= self.process_id < len(self.addresses):
            raise ConfigError(
                f"--process-id {self.process_id} is not one of the {len(self.addresses)} "
                "processes --addresses names"
            )
        if self.snapshot_interval <= timedelta(0):
            raise ConfigError("--snapshot-interval: a number of seconds above 0")
        directory = self.recovery_directory
        if directory is not None and not any(directory.glob("part-*.sqlite3")):
            raise ConfigError(
                f"recovery directory {directory}: holds no recovery partition (create them "
                f"with: python -m bytewax.recovery {directory} <number of processes>)"
            )


def run(flow: Dataflow, options: RunOptions, stop: threading.Event) -> None:
    """Run ``flow`` on the Bytewax runtime in this thread until it ends (see the module
    docstring); its inputs end once ``stop`` is set.

    A failure inside the flow that is meshkit's own (a port's ``PortError``, a
    ``ConfigError``) is raised as it is, out of Bytewax's wrapping; any other stays a
    ``BytewaxRuntimeError``.
    """
    options.check()
    stoppable(flow, stop)
    recovery = None
    if options.recovery_directory is not None:
        recovery = RecoveryConfig(  # type: ignore[no-untyped-call]
            options.recovery_directory, options.backup_interval
        )
    try:
        cli_main(  # type: ignore[no-untyped-call]
            flow,
            workers_per_process=options.workers_per_process,
            process_id=options.process_id,
            addresses=list(options.addresses) or None,
            epoch_interval=options.snapshot_interval,
            recovery_config=recovery,
        )
    except BytewaxRuntimeError as exc:
        cause = _meshkit_cause(exc)
        if cause is not None:
            raise cause from None
        raise


def _meshkit_cause(exc: BaseException) -> MeshkitError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, MeshkitError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None
