"""The namespace sandbox, tried the way a hostile submission would, and the fallback's
honesty about what it cannot promise.

Each escape is a correct Chapter 1 solution whose `conv_output_size` also attempts one
thing submitted code must not do. Each must still score full marks, and the thing must
not have happened. These tests need namespaces; in CI (``CI=true``) their absence is a
failure, elsewhere a skip that says why.
"""

import csv
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import uuid
from pathlib import Path

import nbformat
import pytest
from test_grading import FULL, LIMITS, solution_with

from cnnbook import cli
from cnnbook.grading.engine import isolation
from cnnbook.grading.engine.grader import grade_folder
from conftest import ROOT

FORMULA = "(size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1"


@pytest.fixture(scope="module")
def namespaces() -> None:
    level = isolation.detect()
    if level != isolation.NAMESPACES:
        why = f"this machine isolates by {level}: install bubblewrap, allow user namespaces"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI requires the namespace sandbox; {why}")
        pytest.skip(why)


def escaping(attempt: str):
    """The solutions notebook, with `attempt` run (errors ignored) before the answer."""
    body = textwrap.indent(textwrap.dedent(attempt).strip(), " " * 8)
    source = (
        "def conv_output_size(size, kernel, padding=0, stride=1, dilation=1):\n"
        f"    try:\n{body}\n    except Exception:\n        pass\n    return {FORMULA}"
    )
    return solution_with(conv_output_size=source)


class Listener:
    """A TCP server on the loopback that counts the connections it receives."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.server.close()


def processes_mentioning(token: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if token.encode() in cmdline:
            found.append(entry.name)
    return found


@pytest.fixture(scope="module")
def escapes(namespaces, tmp_path_factory):
    """Grade one notebook per escape class in one batch, as an instructor would."""
    folder = tmp_path_factory.mktemp("submissions")
    host = tmp_path_factory.mktemp("host")
    token = f"cnnbook-escape-{uuid.uuid4().hex}"
    listener = Listener()
    attempts = {
        "shell": f"""
            import os, subprocess
            os.system("echo shell > {host}/shell.txt")
            subprocess.run(["/bin/sh", "-c", "echo shell > {host}/sh.txt"])
        """,
        "network": f"""
            import socket
            socket.create_connection(("127.0.0.1", {listener.port}), timeout=2).sendall(b"x")
        """,
        "files": f"""
            open("/tmp/{token}", "w").write("left behind")
            open("{host}/outside.txt", "w").write("written outside")
        """,
        "snooping": f"""
            import os
            names = os.listdir("{folder}")
            print(open(os.path.join("{folder}", names[0])).read())
            return -1  # could see the others' notebooks: a wrong answer makes it visible
        """,
        "daemon": f"""
            import subprocess, sys
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "{token}"],
                             start_new_session=True)
        """,
    }
    for student, attempt in attempts.items():
        nbformat.write(escaping(attempt), folder / f"{student}_01-convolution.ipynb")
    out = tmp_path_factory.mktemp("grades")
    lines: list[str] = []
    try:
        rows = grade_folder(folder, "01", out, jobs=2, seed=5, limits=LIMITS, log=lines.append)
    finally:
        listener.close()
    survivors = processes_mentioning(token)
    for pid in survivors:  # never leave them behind, even when the test fails
        subprocess.run(["kill", "-9", pid], check=False)
    return {
        "rows": {r["student"]: r for r in rows},
        "host": host,
        "token": token,
        "listener": listener,
        "survivors": survivors,
        "log": lines,
    }


@pytest.mark.parametrize("student", ["shell", "network", "files", "snooping", "daemon"])
def test_an_escape_attempt_still_scores_full_marks(escapes, student):
    row = escapes["rows"][student]
    assert (row["total"], row["status"], row["isolation"]) == (FULL, "graded", "namespaces")


def test_a_shell_command_leaves_no_trace(escapes):
    assert not list(escapes["host"].glob("*.txt"))


def test_no_request_reaches_a_local_listener(escapes):
    assert escapes["listener"].connections == 0


def test_nothing_is_written_outside_the_working_directory(escapes):
    assert not Path("/tmp", escapes["token"]).exists()
    assert not (escapes["host"] / "outside.txt").exists()


def test_the_submissions_folder_is_out_of_sight(escapes):
    assert escapes["rows"]["snooping"]["conv_output_size"] == 1  # never returned -1


def test_no_process_outlives_the_batch(escapes):
    assert escapes["survivors"] == []


def test_the_log_names_the_isolation(escapes):
    assert any(line.startswith("isolation: namespaces") for line in escapes["log"])


def test_a_private_directory_does_not_hide_the_interpreter(namespaces, tmp_path):
    """As root, an environment inside a mode-700 folder (a clone in /root or mktemp -d)
    was unreadable once the child dropped to nobody: a lazily imported submodule of an
    allowed package failed. The same environment, hard-linked into such a folder, must
    grade a solution that imports `numpy.testing` inside a function."""
    if sys.prefix == sys.base_prefix:
        pytest.skip("needs a virtual environment to copy")
    try:
        private = Path(tempfile.mkdtemp(prefix=".private-", dir=Path(sys.prefix).parent))
    except OSError as error:  # an environment installed for all users, say under /opt
        pytest.skip(f"cannot make a folder beside the environment: {error}")
    try:
        assert private.stat().st_mode & 0o777 == 0o700
        copy = subprocess.run(["cp", "-al", sys.prefix, private / "venv"], capture_output=True)
        if copy.returncode != 0:
            pytest.skip(f"cannot hard-link the environment: {copy.stderr.decode()[:200]}")
        submissions = tmp_path / "in"
        submissions.mkdir()
        lazy = "import numpy.testing\nnumpy.testing.assert_equal(1, 1)"
        nbformat.write(escaping(lazy), submissions / "lazy_01-convolution.ipynb")
        done = subprocess.run(
            [private / "venv/bin/python", "-m", "cnnbook.grading", submissions, "--chapter",
             "01", "--out", tmp_path / "out"],
            capture_output=True, text=True, cwd=ROOT, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        with open(tmp_path / "out" / "grades.csv") as f:
            row = next(csv.DictReader(f))
        assert float(row["total"]) == FULL and row["isolation"] == "namespaces"
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_the_fallback_says_what_it_cannot_promise(tmp_path):
    submissions = tmp_path / "in"
    submissions.mkdir()
    nbformat.write(solution_with(), submissions / "ana_01-convolution.ipynb")
    lines: list[str] = []
    rows = grade_folder(submissions, "01", tmp_path / "out", seed=1, limits=LIMITS,
                        level=isolation.PROCESS_ONLY, require_isolation=False,
                        log=lines.append)  # fmt: skip
    assert rows[0]["total"] == FULL and rows[0]["isolation"] == "process only"
    with open(tmp_path / "out" / "grades.csv") as f:
        assert next(csv.DictReader(f))["isolation"] == "process only"
    assert "(isolation: process only)" in (tmp_path / "out/feedback/ana.md").read_text()
    assert any(line.startswith("isolation: process only (no bubblewrap") for line in lines)


def test_the_fallback_is_refused_unless_asked_for(tmp_path, monkeypatch, capsys):
    """Without namespaces, submitted code can read what the grader's user reads: the
    command says how to get bubblewrap and grades only when told to anyway."""
    monkeypatch.setattr(isolation, "detect", lambda: isolation.PROCESS_ONLY)
    submissions, out = tmp_path / "in", tmp_path / "out"
    submissions.mkdir()
    nbformat.write(solution_with(), submissions / "ana_01-convolution.ipynb")
    code = cli.main(["grade", str(submissions), "--chapter", "01", "--out", str(out)])
    assert code == 2
    error = capsys.readouterr().err
    assert "isolation required, but this machine offers process only" in error
    assert "apt install bubblewrap" in error and "--allow-unisolated" in error
    assert not out.exists()
    code = cli.main(["grade", str(submissions), "--chapter", "01", "--out", str(out),
                     "--allow-unisolated"])  # fmt: skip
    assert code == 0
    with open(out / "grades.csv") as f:
        row = next(csv.DictReader(f))
    assert float(row["total"]) == FULL and row["isolation"] == "process only"
