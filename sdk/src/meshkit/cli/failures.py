"""How a command line run ends: every failure becomes a short message and an exit code.

``run(app, argv)`` runs a Typer app and returns its exit code:

- 0 on success; the code a command chose with ``typer.Exit``;
- 2 for a usage error (unknown command or option, bad option value), shown by Click;
- 1 for every expected failure, printed as ``error: <message>`` on stderr, no traceback:
  ``MeshkitError`` (and so ``ConfigError``, ``ContractError``, …), pydantic validation
  errors (settings from the environment), ``OSError`` (a missing file, ``-o`` naming a
  directory, a read-only state directory), and errors of the database and message-bus
  drivers (PostgreSQL, Kafka, DuckDB, SQLite, BigQuery, Elasticsearch);
- 1 for anything else too, as ``error: unexpected <type> at <file>:<line>`` with a hint:
  it is a bug, and ``MESHKIT_DEBUG=1`` shows its traceback instead. Its message is not
  printed (it may hold a value of a record), nor more than the first line of a driver's
  (PostgreSQL puts the row's values in the DETAIL line that follows).

Messages are printed verbatim (never read as Rich markup), with passwords in connection
URLs and ``password=`` settings replaced by ``***``, and clipped: a line is cut at
``MAX_LINE`` characters and a message at ``MAX_LINES`` lines, so a 50 MB name is not
echoed back in full (usage errors from Click are clipped the same way).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings
from rich.console import Console
from rich.text import Text
from typer.exceptions import TyperException

from meshkit.errors import ConfigError, MeshkitError
from meshkit.redaction import redact_text

DEBUG_ENV = "MESHKIT_DEBUG"
MAX_LINE = 1000
MAX_LINES = 200

# Exceptions of these packages are failures of a service or its data, not meshkit bugs.
_DRIVERS = {
    "psycopg2": "PostgreSQL",
    "psycopg": "PostgreSQL",
    "confluent_kafka": "Kafka",
    "cimpl": "Kafka",  # confluent_kafka's compiled module
    "kafka": "Kafka",
    "duckdb": "DuckDB",
    "_duckdb": "DuckDB",
    "sqlite3": "SQLite",
    "google": "Google Cloud",
    "elasticsearch": "search",
    "elastic_transport": "search",
    "urllib3": "HTTP",
    "requests": "HTTP",
    "httpx": "HTTP",
}


def clip(text: str, *, line: int = MAX_LINE, lines: int = MAX_LINES) -> str:
    """``text`` redacted, each line cut at ``line`` characters, at most ``lines`` lines.

    Each line is redacted on its first ``line`` + 1,400 characters only (more than a
    whole URL with its password), so a connection URL crossing the cut loses its password
    before the cut, and a 50 MB line costs no more than a short one.
    """
    parts = text.splitlines() or [""]
    shown = []
    for part in parts[:lines]:
        head = redact_text(part[: line + 1400])
        if len(part) > line or len(head) > line:
            head = f"{head[:line]}… ({len(part):,} characters)"
        shown.append(head)
    if len(parts) > lines:
        shown.append(f"… ({len(parts) - lines:,} more lines)")
    return "\n".join(shown)


def settings_error(settings: type[BaseSettings], exc: ValidationError) -> ConfigError:
    """A ``ConfigError`` naming the environment variable behind each invalid setting."""
    prefix = str(settings.model_config.get("env_prefix", ""))
    problems = []
    for error in exc.errors(include_url=False, include_input=False):
        field = ".".join(str(part) for part in error["loc"]) or "(settings)"
        name = f"{prefix}{field}".upper() if error["loc"] else field
        problems.append(f"{name}: {error['msg']}")
    return ConfigError(
        f"invalid {settings.__name__}: {'; '.join(problems)} "
        "(fix or unset the environment variable, or the matching option)"
    )


def describe(exc: BaseException) -> str:
    """The one-line (or few-line) message for an exception, without its traceback."""
    if isinstance(exc, MeshkitError):
        return str(exc)
    if isinstance(exc, ValidationError):
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '(value)'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        ]
        return f"invalid {exc.title}: {'; '.join(problems)}"
    if isinstance(exc, OSError) and exc.strerror:
        files = (exc.filename, exc.filename2)
        names = [os.fsdecode(f) for f in files if isinstance(f, str | bytes | os.PathLike)]
        where = f"{' -> '.join(names)}: " if names else ""
        return f"{where}{exc.strerror}"
    driver = _DRIVERS.get(type(exc).__module__.partition(".")[0])
    if driver is not None:
        # The first line only: drivers add the row's values in DETAIL / CONTEXT lines.
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        return f"{driver} error ({type(exc).__name__}): {first or 'no message'}"
    # Not the message: an unexpected error's text may hold a value of a record.
    return (
        f"unexpected {type(exc).__name__}{_where(exc)}\n"
        f"this is a bug in meshkit; rerun with {DEBUG_ENV}=1 to see the traceback (it may "
        "show data values), and report it"
    )


def _where(exc: BaseException) -> str:
    """`` at <file>:<line>`` of the frame that raised, the path from the package on."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    frame = frames[-1]
    path = Path(frame.filename)
    parts = path.parts
    start = next(
        (i for i in range(len(parts) - 1, -1, -1) if parts[i] in {"meshkit", "meshkit_platform"}),
        len(parts) - 1,
    )
    return f" at {'/'.join(parts[start:])}:{frame.lineno}"


def _print_error(message: str) -> None:
    text = clip(message)
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(Text.assemble(("error: ", "bold red"), text))


def _show_usage_error(exc: TyperException) -> None:
    # A usage error repeats the offending argument (an unknown command, a bad value):
    # clip it. Click prints it as plain text, never as markup.
    original = exc.format_message

    def clipped() -> str:
        return clip(original())

    exc.format_message = clipped  # type: ignore[method-assign]
    show = getattr(exc, "show", None)
    if callable(show):
        show()
    else:
        _print_error(exc.format_message())


def run(app: typer.Typer, argv: Sequence[str] | None = None, *, prog_name: str) -> int:
    """Run ``app`` on ``argv`` (default: ``sys.argv[1:]``) and return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name=prog_name, standalone_mode=False)
    except typer.Exit as exc:  # raised outside a command's context
        return int(exc.exit_code or 0)
    except TyperException as exc:  # usage errors, bad parameters (Typer's Click)
        _show_usage_error(exc)
        return int(exc.exit_code)
    except typer.Abort:
        Console(stderr=True, highlight=False).print(Text("aborted"))
        return 1
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head`): nothing more to say.
        _silence_stdout()
        return 1
    except Exception as exc:
        if os.environ.get(DEBUG_ENV, "").strip() not in {"", "0"}:
            raise
        _print_error(describe(exc))
        return 1
    return result if isinstance(result, int) else 0


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
