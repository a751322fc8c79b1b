"""How fast, and how clearly, the grader answers broken learner code.

Each kind of broken flow (a syntax error, an exception, an endless loop, a huge
allocation, a flood of output, a KeyboardInterrupt, a blocking sleep, …) is made
from the reference solution by one edit, graded through the real grader, and timed.
The goal is a clear verdict in under 15 s for each on a two-core machine.

Run: ``python benchmarks/broken_code.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chatkit.kit_home import kit_root

sys.path.insert(0, str(kit_root() / "tests" / "kit"))
from mistakes import BROKEN, broken_source  # the kinds live beside the kit's tests


def grade(flow: Path) -> tuple[float, dict[str, object]]:
    out = flow.parent / "result.json"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "grader.py", "--target", str(flow.parent), "--json", str(out), "--quiet"],
        cwd=kit_root(),
        capture_output=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    return seconds, json.loads(out.read_text()) if out.exists() else {}


def verdict(result: dict[str, object]) -> str:
    """The first line of what the grader said first."""
    if result.get("message"):
        return str(result["message"]).splitlines()[0]
    tests = result.get("tests", [])
    assert isinstance(tests, list)
    failing = [test for test in tests if test["status"] != "pass"]
    if not failing:
        return "all passed"
    return str(failing[0]["message"]).splitlines()[0]


def main() -> int:
    slowest = 0.0
    with tempfile.TemporaryDirectory() as folder:
        print(f"{'broken flow':<30} {'seconds':>7}  score  what the grader says first")
        for name in BROKEN:
            flow = Path(folder) / name.replace(" ", "_") / "flow.py"
            flow.parent.mkdir()
            flow.write_text(broken_source(name))
            seconds, result = grade(flow)
            slowest = max(slowest, seconds)
            print(
                f"{name:<30} {seconds:7.1f}  {result.get('score', '?')!s:>5}  {verdict(result)[:90]}"
            )
    print(f"slowest: {slowest:.1f} s (goal: under 15 s each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
