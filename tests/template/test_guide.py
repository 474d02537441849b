"""docs/start-a-domain.md, replayed literally: its shell blocks run in order, in a fresh
directory, the way a domain team pastes them into a terminal.

Before the guide, the platform team's part (as the README tells it): the local stack's
package index is started at its default address and this checkout's HEAD is released into
it with ``meshkit-platform sdk release --index local``. Then every ``bash`` block of the
guide's numbered steps runs in order, in one shell session (working directory and
exports carry from block to block), with only uv and the system's directories on PATH.

One substitution: the guide's template address (the meshkit repository on GitHub) is a
clone of this checkout, since tests reach no host but the package registries. Commands a
block starts in the background (``&``) keep running; before the next block the test waits,
as a reader would, until the flow's product topic holds the sample rows. When the guide
changes, the test follows it.
"""

from __future__ import annotations

import contextlib
import csv
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from meshkit.local import LocalSettings, LocalStack
from tests.template.conftest import BIN, GIT_IDENTITY, ROOT, UV, run

pytestmark = [pytest.mark.services, pytest.mark.slow]

GUIDE = ROOT / "docs" / "start-a-domain.md"
TEMPLATE_URL = "https://github.com/meshkit/meshkit"
_BLOCK = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PRODUCT_TOPIC = "customer_accounts.account.v1"


def guide_blocks(text: str) -> list[tuple[str, str]]:
    """(section heading, shell block) for every ``bash`` block of the numbered steps 1-4."""
    blocks = []
    heading = ""
    position = 0
    for match in _BLOCK.finditer(text):
        headings = re.findall(r"^## (.+)$", text[position : match.start()], re.MULTILINE)
        heading = headings[-1] if headings else heading
        position = match.end()
        if re.match(r"[1-4]\. ", heading):
            blocks.append((heading, match.group(1)))
    return blocks


class Shell:
    """One bash session for the whole guide, as in a terminal: the working directory,
    exports and background jobs (``%1``) carry from block to block. A block stops at its
    first failing command (like ``set -e``, without ending the session)."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base = base
        self.count = 0
        self.log = (base / "shell.log").open("w")
        self.proc = subprocess.Popen(
            ["bash"], cwd=base, env=env, stdin=subprocess.PIPE, stdout=self.log,
            stderr=subprocess.STDOUT, text=True, start_new_session=True,
        )  # fmt: skip

    @staticmethod
    def checked(block: str) -> str:
        """The block with a stop after each foreground command that fails."""
        lines, pending = [], ""
        for raw in block.splitlines():
            pending += raw
            if raw.endswith("\\"):
                pending += "\n"
                continue
            lines.append(pending)
            command = pending.split(" #", 1)[0].strip()
            if command and not command.startswith("#") and not re.search(r"(?<!&)&$", command):
                lines.append("__s=$?; [ $__s -eq 0 ] || return $__s")
            pending = ""
        return "\n".join(lines) + "\n"

    def run(self, block: str, timeout: float = 900) -> str:
        self.count += 1
        script = self.base / f"block-{self.count}.sh"
        log = self.base / f"block-{self.count}.log"
        status = self.base / f"block-{self.count}.status"
        script.write_text(self.checked(block))
        assert self.proc.stdin is not None
        self.proc.stdin.write(
            f"{{ source {shlex.quote(str(script))}; }} > {shlex.quote(str(log))} 2>&1 "
            f"< /dev/null; echo $? > {shlex.quote(str(status))}\n"
        )
        self.proc.stdin.flush()
        _wait(lambda: status.is_file() and status.read_text().endswith("\n"),
              f"guide block {self.count}", timeout)  # fmt: skip
        text = log.read_text()
        code = int(status.read_text())
        assert code == 0, f"guide block failed ({code}):\n{block}\n--- output ---\n{text[-6000:]}"
        return text

    def exported(self, name: str) -> str:
        """A variable of the session, as the last block left it."""
        self.count += 1
        out = self.base / f"var-{self.count}.txt"
        assert self.proc.stdin is not None
        target = shlex.quote(str(out))
        printf = f"printf '%s\\n' \"${name}\" > {target}.tmp"
        self.proc.stdin.write(f"{printf} && mv {target}.tmp {target}\n")
        self.proc.stdin.flush()
        _wait(out.is_file, f"the variable {name}", 30)
        return out.read_text().rstrip("\n")

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # the shell and its background jobs
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:  # a job ignoring SIGTERM: the group goes for good
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        self.log.close()


def _wait(check: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _topic_count(bootstrap: str, topic: str) -> int:
    """Records in ``topic``, read to the end of every partition (the embedded broker's
    watermarks count record batches, not records)."""
    from confluent_kafka import Consumer, KafkaError, TopicPartition

    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": "guide-test", "enable.auto.commit": False,
        "enable.partition.eof": True,
    })  # fmt: skip
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            return 0
        consumer.assign([TopicPartition(topic, p, 0) for p in metadata.partitions])
        count, ended, deadline = 0, 0, time.monotonic() + 20
        while ended < len(metadata.partitions) and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is None:
                count += 1
            elif msg.error().code() == KafkaError._PARTITION_EOF:
                ended += 1
        return count
    finally:
        consumer.close()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The platform team's part: the local index at its default address, HEAD released."""
    # the user's environment (proxies, CA bundles, uv's cache), minus any activated venv or
    # meshkit setting; only uv and the system's directories on PATH
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MESHKIT_", "PYTEST_", "VIRTUAL_ENV", "UV_PROJECT", "PYTHONPATH"))
    }
    env.update(
        PATH=os.pathsep.join([str(UV.parent), "/usr/local/bin", "/usr/bin", "/bin"]),
        XDG_STATE_HOME=str(tmp_path / "xdg-state"),  # where `local up` remembers its stack
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit"),
        **GIT_IDENTITY,
    )
    clone = tmp_path / "meshkit"
    run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], tmp_path)
    platform_env = {**env, "PATH": os.pathsep.join([str(BIN), env["PATH"]])}
    try:
        up = subprocess.run(
            [str(BIN / "meshkit"), "local", "up", "--only", "index"], cwd=tmp_path,
            env=platform_env, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert up.returncode == 0, up.stdout + up.stderr
        release = subprocess.run(
            [str(BIN / "meshkit-platform"), "sdk", "release", "--index", "local"], cwd=clone,
            env=platform_env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert release.returncode == 0, release.stdout + release.stderr
        # a released version never changes on a real index; this test releases 0.1.0 from
        # every HEAD at the same address, so uv's cached copy of the last one must go
        run([str(UV), "cache", "clean", "meshkit"], tmp_path)
        yield {**env, "MESHKIT_GUIDE_TEMPLATE": str(clone)}
    finally:  # whatever failed, no service is left running (the guide's stack is this one)
        LocalStack(LocalSettings(state_dir=tmp_path / ".state" / "local")).down()


def test_the_guide_runs_as_written(platform: dict[str, str], tmp_path: Path) -> None:
    blocks = guide_blocks(GUIDE.read_text())
    assert [heading[0] for heading, _ in blocks] == ["1", "2", "3", "3", "3", "4"], blocks
    work = tmp_path / "work"
    work.mkdir()
    template = platform.pop("MESHKIT_GUIDE_TEMPLATE")
    shell = Shell(work, platform)
    try:
        for heading, block in blocks:
            script = block.replace(TEMPLATE_URL, template)
            out = shell.run(script)
            if heading.startswith("1."):
                repo = work / "customer-accounts"
                assert (repo / "contracts" / "account.yaml").is_file(), out
            if "&" in re.sub(r"&&|>&|2>&1", "", script):
                # the capture and the flow run in the background: wait for the product
                bootstrap = shell.exported("MESHKIT_KAFKA_BOOTSTRAP")
                with (repo / "samples" / "account.csv").open() as sample:
                    rows = sum(1 for _ in csv.DictReader(sample))
                _wait(lambda b=bootstrap, n=rows: _topic_count(b, _PRODUCT_TOPIC) >= n,
                      f"{rows} records in {_PRODUCT_TOPIC}")  # fmt: skip
            if "dagster asset materialize" in script:
                assert "RUN_SUCCESS" in out or "Materialized" in out or "success" in out, out
    finally:
        shell.stop()
        for log in sorted(work.glob("*/*.log")):  # the background commands' logs, on failure
            print(f"--- {log.name} ---\n{log.read_text()[-3000:]}")
    # what the guide promised along the way
    assert (repo / "uv.lock").is_file()
    assert "uv.lock" in run(["git", "ls-files"], repo).split()
    assert (repo / ".git" / "hooks" / "pre-commit").is_file()  # `pre-commit install` ran
