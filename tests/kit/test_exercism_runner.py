"""exercism's test-runner interface: ``bin/run.sh SLUG INPUT_DIR OUTPUT_DIR``.

The script must write ``OUTPUT_DIR/results.json``, the grader's own ``--json`` (the
test-runner format, version 3), and exit 0 whenever it did, whatever the grade.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatkit.kit_home import kit_root

pytestmark = pytest.mark.timeout(120)

RUN = kit_root() / "bin" / "run.sh"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable}
    return subprocess.run(
        ["bash", RUN, *map(str, args)], capture_output=True, text=True, env=env, check=False
    )


def test_the_runner_writes_the_graders_results_for_a_kit_copy(tmp_path: Path) -> None:
    submission = tmp_path / "input"
    (submission / "starter-code").mkdir(parents=True)
    starter = (kit_root() / "starter-code" / "flow.py").read_text()
    (submission / "starter-code" / "flow.py").write_text(starter)
    done = run("chat-message-flow", submission, tmp_path / "output")
    assert done.returncode == 0, done.stdout + done.stderr
    written = json.loads((tmp_path / "output" / "results.json").read_text())
    assert written["version"] == 3 and written["status"] == "fail" and written["score"] == 0
    expected = tmp_path / "expected.json"
    subprocess.run(
        [sys.executable, "grader.py", "--quiet", "--target", submission / "starter-code",
         "--json", expected],
        cwd=kit_root(),
        capture_output=True,
        check=False,
    )  # fmt: skip
    assert written == json.loads(expected.read_text())


def test_a_flow_that_cannot_load_is_an_error_result_not_a_failed_runner(tmp_path: Path) -> None:
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "flow.py").write_text("def send(:\n")
    done = run("chat-message-flow", tmp_path / "input", tmp_path / "output")
    assert done.returncode == 0, done.stderr
    written = json.loads((tmp_path / "output" / "results.json").read_text())
    assert written["status"] == "error" and "SyntaxError" in written["message"]


def test_the_runner_says_how_to_call_it(tmp_path: Path) -> None:
    done = run("chat-message-flow", tmp_path)
    assert done.returncode == 2 and "usage: bin/run.sh SLUG INPUT_DIR OUTPUT_DIR" in done.stderr
