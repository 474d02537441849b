"""The command lines under hostile and careless input: one clear line and exit 1, never a
traceback; user text printed verbatim, never read as markup; long names clipped; files
that are not regular files refused before a byte is read.

Commands run through the console scripts' entry points (``meshkit.cli.main``,
``meshkit_platform.cli.main``), in this process (output captured by Click's runner) or,
where a command could block, in a subprocess with a timeout.
"""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import confluent_kafka
import duckdb
import psycopg2
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

import meshkit.cli
import meshkit_platform.cli
from meshkit.cli.failures import DEBUG_ENV, MAX_LINE, run
from meshkit.privacy.keys import MASTER_KEY_ENV, STATE_DIR_ENV, new_master_key

VALID = Path(__file__).parents[2] / "fixtures" / "contracts" / "valid" / "customer.yaml"


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def call(
    argv: Sequence[str],
    env: dict[str, str | None] | None = None,
    main: Callable[[Sequence[str] | None], None] = meshkit.cli.main,
) -> Outcome:
    """Run a console script's ``main`` in this process; its exit code and output."""
    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        try:
            main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
        sys.stdout.flush()
        sys.stderr.flush()
        return Outcome(code, out.getvalue().decode(), err.getvalue().decode())


def call_subprocess(argv: Sequence[str], env: dict[str, str] | None = None) -> Outcome:
    """Run ``meshkit`` in a subprocess (for input that could block the caller)."""
    done = subprocess.run(
        [sys.executable, "-c", "from meshkit.cli import main; main()", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return Outcome(done.returncode, done.stdout, done.stderr)


def assert_clean_failure(result: Outcome, *needles: str) -> None:
    assert result.code == 1, result.text
    assert "Traceback" not in result.text
    assert "error: unexpected " not in result.text  # an expected failure, not a bug
    for needle in needles:
        assert needle in result.text, result.text


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh working directory and key store for each test."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(MASTER_KEY_ENV, new_master_key())
    monkeypatch.setenv(STATE_DIR_ENV, str(tmp_path / "keys"))
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    return tmp_path


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.yaml"
    os.mkfifo(path)
    return path


# -- markup, long names ----------------------------------------------------------------


@pytest.mark.parametrize("name", ["cust[red]omer", "[/x]", "[bold]x[/bold] [link=y]z[/link]"])
def test_user_text_in_errors_is_printed_verbatim(home: Path, name: str) -> None:
    result = call(["privacy", "keys", "create", name])
    assert_clean_failure(result, f"bad key name {name!r}")
    result = call(["cdc", "connector-config", "--dsn", "postgresql://x/db", "-t", "public.a",
                   "--topic-prefix", "p", "--format", name])  # fmt: skip
    assert_clean_failure(result, f"--format {name!r}")


def test_user_text_in_tables_is_printed_verbatim(home: Path) -> None:
    sample = Path("people[red].csv")  # relative to home: a short title, never wrapped
    sample.write_text("cust[red]omer,[/x]\nada@example.com,bob@example.org\n", encoding="utf-8")
    result = call(["privacy", "scan", str(sample)])
    assert result.code == 0, result.text
    assert "cust[red]omer" in result.out
    assert "[/x]" in result.out
    assert "people[red].csv" in result.out


def test_a_huge_name_is_not_echoed_in_full(home: Path) -> None:
    name = "n" * 50_000_000
    result = call(["privacy", "keys", "create", name])
    assert_clean_failure(result, "bad key name 'nnnn", " characters)")
    assert len(result.text) < 2 * MAX_LINE
    result = call(["contract", name[:200_000]])  # a usage error repeats the command
    assert result.code == 2
    assert "No such command" in result.text
    assert len(result.text) < 2 * MAX_LINE + 500


# -- files that are not files ------------------------------------------------------------


def _not_files(fifo: Path) -> list[Path]:
    return [fifo, Path("/dev/zero"), fifo.parent]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["contract", "lint", "{}"], "{}: error: is "),
        (["contract", "export", "{}", "-f", "avro"], "{}: error: is "),
        (["contract", "diff", str(VALID), "{}"], "{}: error: is "),
        (["privacy", "scan", "{}"], "{}: is "),
        (["privacy", "scan", "--contract", "{}", str(VALID)], "{}: error: is "),
        (["cdc", "connector-config", "--config", "{}"], "{}: cannot read the CDC configuration"),
        (["contract", "import", "{}", "--from", "odcs"], "error: {}: is "),
    ],
)
def test_fifos_devices_and_directories_are_refused(
    home: Path, fifo: Path, argv: list[str], message: str
) -> None:
    for path in _not_files(fifo):
        if path.is_dir() and argv[:2] == ["contract", "lint"]:
            continue  # lint searches a directory for contracts
        args = [a.replace("{}", str(path)) for a in argv]
        result = call_subprocess(args)  # a blocked read would hang this test, not the suite
        assert_clean_failure(result, message.replace("{}", str(path)))
        assert "not a regular file" in result.text


def test_a_deeply_nested_cdc_configuration_is_one_line(home: Path) -> None:
    config = home / "cdc.yaml"
    config.write_text("tables: " + "[" * 5000 + "]" * 5000 + "\n")
    result = call(["cdc", "connector-config", "--config", str(config)])
    assert_clean_failure(result, f"{config}: the CDC configuration is nested too deeply")


def test_an_oversized_contract_is_refused_before_parsing(home: Path) -> None:
    big = home / "big.yaml"
    big.write_bytes(b"# padding\n" * 500_000)
    result = call(["contract", "lint", str(big)])
    assert_clean_failure(result, f"{big}: error: is larger than 4 MiB")


@pytest.mark.parametrize("where", ["directory", "missing parent"])
def test_output_that_cannot_be_written_is_one_line(home: Path, where: str) -> None:
    target = home if where == "directory" else home / "no" / "such" / "x.avsc"
    result = call(["contract", "export", str(VALID), "-f", "avro", "-o", str(target)])
    assert_clean_failure(result, f"error: {target}: cannot write the output: ")
    assert len(result.err.strip().splitlines()) == 1


# -- settings, state directories, drivers ------------------------------------------------


def test_a_bad_setting_names_its_environment_variable(home: Path) -> None:
    result = call(["local", "status"], env={"MESHKIT_LOCAL_KAFKA_PORT": "notaport"})
    assert_clean_failure(result, "MESHKIT_LOCAL_KAFKA_PORT: Input should be a valid integer")


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "read-only"
    directory.mkdir(mode=0o555)
    yield directory
    directory.chmod(0o755)


def _drop_file_capabilities() -> None:
    """In the child, before exec: root without the capabilities that bypass file modes."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _without_file_privileges(argv: Sequence[str], env: dict[str, str]) -> Outcome:
    """``meshkit`` in a subprocess that file modes apply to, even when the tests run as root."""
    done = subprocess.run(
        [sys.executable, "-c", "from meshkit.cli import main; main()", *argv],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **env},
        preexec_fn=_drop_file_capabilities if os.geteuid() == 0 else None,
    )  # fmt: skip
    return Outcome(done.returncode, done.stdout, done.stderr)


@pytest.mark.parametrize(
    "argv",
    [
        ["privacy", "keys", "create", "customer", "--state-dir", "{ro}/keys"],
        ["privacy", "keys", "create", "customer", "--state-dir", "{ro}"],
        ["privacy", "erase", "--subject", "c-1", "--state-dir", "{ro}"],
        ["local", "status", "--state-dir", "{ro}/local"],
    ],
)
def test_a_read_only_state_directory_is_one_line(read_only_dir: Path, argv: list[str]) -> None:
    args = [a.replace("{ro}", str(read_only_dir)) for a in argv]
    result = _without_file_privileges(args, {MASTER_KEY_ENV: new_master_key()})
    if argv[0] == "local":  # status only reads: nothing running, no crash
        assert result.code == 1, result.text
        assert "Traceback" not in result.text
        return
    assert_clean_failure(result, "cannot ")
    assert str(read_only_dir) in result.text


class _Model(BaseModel):
    port: int


def _raiser(exc: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def boom() -> None:
        raise exc

    @app.command()
    def other() -> None: ...

    return app


def _validation_error() -> Exception:
    try:
        _Model.model_validate({"port": "notaport"})
    except Exception as exc:
        return exc
    raise AssertionError


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (psycopg2.OperationalError("could not connect to postgresql://u:hunter2@h/db"),
         "PostgreSQL error (OperationalError): could not connect to postgresql://u:***@h/db"),
        (psycopg2.IntegrityError("duplicate key\nDETAIL:  Key (email)=(hunter2@x.org) exists"),
         "PostgreSQL error (IntegrityError): duplicate key"),
        (psycopg2.ProgrammingError("invalid dsn: password=hunter2 host=x"),
         "PostgreSQL error (ProgrammingError): invalid dsn: password=*** host=x"),
        (confluent_kafka.KafkaException(confluent_kafka.KafkaError(-195)),
         "Kafka error (KafkaException): "),
        (duckdb.IOException("Cannot open file x.duckdb: Permission denied"),
         "DuckDB error (IOException): Cannot open file x.duckdb"),
        (sqlite3.OperationalError("attempt to write a readonly database"),
         "SQLite error (OperationalError): attempt to write a readonly database"),
        (IsADirectoryError(21, "Is a directory", "out"), "error: out: Is a directory"),
        (_validation_error(), "invalid _Model: port: Input should be a valid integer"),
    ],
)  # fmt: skip
def test_driver_and_environment_errors_are_one_line(
    home: Path, exc: BaseException, message: str
) -> None:
    app = _raiser(exc)
    result = call(["boom"], main=lambda argv: sys.exit(run(app, argv, prog_name="x")))
    assert_clean_failure(result, message)
    assert "hunter2" not in result.text
    assert len(result.err.strip().splitlines()) == 1


def test_an_unexpected_error_is_one_line_with_a_debug_hint(home: Path) -> None:
    app = _raiser(ZeroDivisionError("ada@example.com [bold]by[/] zero"))
    main = lambda argv: sys.exit(run(app, argv, prog_name="x"))  # noqa: E731
    result = call(["boom"], main=main)
    assert result.code == 1
    assert "Traceback" not in result.text
    assert "error: unexpected ZeroDivisionError at test_hostile.py:" in result.err
    assert f"rerun with {DEBUG_ENV}=1" in result.err
    assert "ada@example.com" not in result.text  # the message may carry a record's value
    with pytest.raises(ZeroDivisionError):
        call(["boom"], env={DEBUG_ENV: "1"}, main=main)


def test_the_platform_cli_ends_the_same_way(home: Path) -> None:
    main = meshkit_platform.cli.main
    assert call(["version"], main=main).code == 0
    result = call(["cust[red]omer"], main=main)
    assert result.code == 2
    assert "No such command 'cust[red]omer'" in result.err


# -- generated argv and files ------------------------------------------------------------


@contextmanager
def _guarded(*, seconds: int, memory: int) -> Iterator[None]:
    """Interrupt a blocked call after ``seconds``; cap this process's address space at its
    current size plus ``memory`` bytes (an endless read raises MemoryError)."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"a command blocked for {seconds} s (reading a FIFO?)")

    with open("/proc/self/statm", encoding="ascii") as fh:  # noqa: PTH123
        size = int(fh.read().split()[0]) * resource.getpagesize()
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    previous = signal.signal(signal.SIGALRM, interrupt)
    resource.setrlimit(resource.RLIMIT_AS, (size + memory, hard))
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, previous)


# Verbs that start or stop processes, drop replication slots, run until a signal, merge
# into a git repository or publish to a registry are left out: the rest only read, or write
# under this test's directories.
_SKIP = {
    ("publish",),
    ("local", "up"),
    ("local", "down"),
    ("cdc", "run"),
    ("cdc", "reset"),
    ("template", "update"),
    ("template", "check"),
}


def _verbs() -> list[tuple[list[str], list[str]]]:
    """Every verb path of ``meshkit`` and its option names."""
    found: list[tuple[list[str], list[str]]] = []

    def walk(command: Any, path: list[str]) -> None:
        commands = getattr(command, "commands", None)  # a group (Typer's own Click)
        if commands is not None:
            for name, sub in commands.items():
                walk(sub, [*path, name])
        elif tuple(path) not in _SKIP:
            options = [o for p in command.params for o in p.opts if o.startswith("-")]
            found.append((path, options))

    walk(typer.main.get_command(meshkit.cli.app), [])
    return found


VERBS = _verbs()
assert len(VERBS) > 15, VERBS  # the walk found the verbs, not only the root


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    base = tmp_path_factory.mktemp("hostile")
    (base / "random.yaml").write_bytes(os.urandom(4096))
    (base / "random.csv").write_bytes(os.urandom(4096))
    (base / "random.parquet").write_bytes(os.urandom(512))
    (base / "markup[red].yaml").write_text("domain: [/x]\nname: cust[red]omer\n")
    (base / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (base / "wide.jsonl").write_text('{"' + "k" * 100_000 + '": 1}\n')
    (base / "dir.yaml").mkdir()
    os.mkfifo(base / "pipe.yaml")
    shutil.copy(VALID, base / "valid.yaml")
    return [
        *(str(p) for p in sorted(base.iterdir())),
        "/dev/zero",
        "/dev/null",
        str(base / "missing" / "x.yaml"),
        str(base),
    ]


def _arguments(files: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(files),
        st.text(max_size=30),
        st.sampled_from(["cust[red]omer", "[/x]", "[", "]", "--", "-", "", "json", "git:HEAD:x"]),
        st.integers(1_000, 300_000).map(lambda n: "x" * n),
    )


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_generated_argv_never_crashes(
    home: Path, hostile_files: list[str], data: st.DataObject
) -> None:
    path, options = data.draw(st.sampled_from(VERBS))
    argument = _arguments(hostile_files)
    option = st.tuples(st.sampled_from(options or ["--help"]), argument).map(list)
    groups = data.draw(st.lists(st.one_of(argument.map(lambda a: [a]), option), max_size=5))
    words = [word for group in groups for word in group]
    # A FIFO or /dev/zero must be refused, never read. Run in this process (a subprocess per
    # example would be slow), but guarded: a read that blocks is interrupted after 60 s, and
    # one that never ends fails at a memory cap instead of filling the machine's memory.
    with _guarded(seconds=60, memory=1 << 30):
        result = call([*path, *words])
    assert result.code in {0, 1, 2}, (path, words, result.text)
    assert "Traceback" not in result.text, (path, words, result.text)
    assert "error: unexpected " not in result.err, (path, words, result.text)
    assert all(len(line) <= MAX_LINE + 40 for line in result.err.splitlines()), (path, words)
