"""The threads in which the port sink writes the ports that wait for a server.

A :class:`PortThread` writes one port's share of the sink's jobs (:class:`Job`), in
order. At most ``MAX_WAITING`` changes wait per port (a job larger than that waits
alone): a port that stays slower than the input holds the dataflow back (back-pressure)
instead of queueing without bound. The bound counts changes, not jobs, so a flow polling
small batches under a steady load lets a port fall a few seconds behind before it holds
anything back: a search server that answers slowly for a while does not hold up the
flow's Kafka topic, which is written in the dataflow's thread. The jobs waiting when the
thread takes the next one are written together, in order, in one ``write``: a port that
falls behind gets larger batches (a search bulk request or a DuckDB write costs
milliseconds whatever its size, so one write of several batches costs about what one
costs).

The first error stops the port's writes; the dataflow's thread raises it at its next
call (:meth:`PortThread.check`): a writer's own error as it is (it names the port's
target and no value), any other as a ``PortError`` naming the port. A thread that ends
for any other reason (an error outside a write) keeps that error too, and drops the jobs
still queued: they are never written nor counted, so the snapshot that waits for them
(:meth:`PortThread.wait`) raises instead of waiting for ever, and no position after them
is committed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from meshkit.errors import MeshkitError
from meshkit.ports import PortError, PortWriter
from meshkit.ports.base import describe_error
from meshkit.streaming.deadletter import DeadLetter
from meshkit.streaming.records import ProductChange


@dataclass
class Job:
    """One ``write_batch``'s changes, written by every port's thread."""

    changes: Sequence[ProductChange]
    ports_left: int
    refused: dict[int, DeadLetter] = field(default_factory=dict)  # first refusal per change
    lock: threading.Lock = field(default_factory=threading.Lock)


class PortThread:
    """Writes one port's share of the jobs, in order, in a thread of its own.

    The sink's callbacks: ``write(port, writer, jobs)`` writes jobs in one batch,
    ``done(job)`` is called for each job written, ``flush(port, writer)`` flushes a writer
    whose ``flush_when_idle`` is true whenever the queue runs empty, ``committed(port)``
    follows that flush, and ``failed(port, error)`` is told of the error that stops the
    port (it logs it: if the dataflow dies before raising it, a Bytewax panic aborting
    the process, the log is the only trace).
    """

    MAX_WAITING = 20_000  # changes; four polls of the sources' default batch size (5,000)

    def __init__(
        self,
        partition: str,
        port: str,
        writer: PortWriter,
        write: Callable[[str, PortWriter, list[Job]], None],
        done: Callable[[Job], None],
        flush: Callable[[str, PortWriter], None],
        committed: Callable[[str], None],
        failed: Callable[[str, BaseException], None],
    ) -> None:
        self.partition = partition
        self.port = port
        self.writer = writer
        self._write, self._done, self._flush = write, done, flush
        self._committed, self._on_error = committed, failed
        self.jobs: queue.Queue[Job | None] = queue.Queue()
        self._room = threading.Condition()  # signalled when the thread takes jobs
        self._waiting = 0  # changes queued and not taken by the thread yet
        self.error: BaseException | None = None
        self.stopped = False  # the thread ended before it was told to stop
        self.flush_when_idle = bool(getattr(writer, "flush_when_idle", False))
        self.thread = threading.Thread(
            target=self._run, name=f"meshkit-{partition}-{port}", daemon=True
        )
        self.thread.start()

    # -- the dataflow's thread ------------------------------------------------------------

    def put(self, job: Job) -> None:
        """Queue ``job``; blocks while it would take more than ``MAX_WAITING`` changes
        waiting (unless none waits), and raises if the thread ended."""
        self.check()
        size = len(job.changes)
        with self._room:
            while self._waiting and self._waiting + size > self.MAX_WAITING:
                self._room.wait()
            self.check()  # the thread may have ended while this waited
            self._waiting += size
            self.jobs.put(job)

    def check(self) -> None:
        """Raise the thread's error, if it has one (see the module docstring)."""
        if self.error is None:
            return
        exc = self.error
        where = f"port {self.port} of {self.partition}"
        if self.stopped:
            raise PortError(
                f"{where}: its writer thread stopped ({type(exc).__name__}); the changes "
                "handed to it since the last snapshot are not written and their source "
                "positions are not committed"
            ) from None
        if isinstance(exc, MeshkitError):  # the writers' own errors: clear, and name no value
            raise exc
        raise PortError(f"{where} failed: {describe_error(exc)}") from None

    def wait(self) -> None:
        """Until the thread wrote every queued job; then raise its error, if any."""
        self.check()
        self.jobs.join()
        self.check()

    def stop(self) -> None:
        """Let the thread finish the queued jobs, and end it."""
        if self.thread.is_alive():
            self.jobs.put(None)
        self.thread.join()

    # -- the port's thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # ends the thread; check() raises it
            if self.error is None:
                self._failed(exc)
            self.stopped = True
            self._drop_queued()

    def _loop(self) -> None:
        while True:
            jobs = [self.jobs.get()]
            while jobs[-1] is not None:  # the jobs waiting already go in the same write
                try:
                    jobs.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            work = [j for j in jobs if j is not None]
            try:
                self._taken(work)
                if work and self.error is None:
                    try:
                        self._write(self.port, self.writer, work)
                    except BaseException as exc:  # check() raises it
                        self._failed(exc)
                for job in work:
                    if self.error is None:
                        self._done(job)
                if work and self.error is None and self.flush_when_idle and self.jobs.empty():
                    try:  # before task_done: a snapshot's flush waits for this one
                        self._flush(self.port, self.writer)
                        self._committed(self.port)
                    except BaseException as exc:  # check() raises it
                        self._failed(exc)
            finally:
                for _ in jobs:
                    self.jobs.task_done()
            if jobs[-1] is None:
                return

    def _taken(self, jobs: list[Job]) -> None:
        """The thread took ``jobs`` off the queue: room for as many changes."""
        with self._room:
            self._waiting -= sum(len(j.changes) for j in jobs)
            self._room.notify_all()

    def _drop_queued(self) -> None:
        """Mark every queued job done without writing it (nothing waits for ever)."""
        while True:
            try:
                job = self.jobs.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self._taken([job])
            self.jobs.task_done()
        with self._room:  # a put waiting for room wakes, and raises the thread's error
            self._room.notify_all()

    def _failed(self, exc: BaseException) -> None:
        """Keep the error for the dataflow's thread, and tell the sink now."""
        self.error = exc
        self._on_error(self.port, exc)
