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

from chatkit.target import kit_root

SOLUTION = (kit_root() / "solution" / "flow.py").read_text()
SEND = "    check_body(body)\n"
RECONCILE = "    message = state.get(incoming.client_id)\n"

BROKEN: dict[str, tuple[str, str]] = {
    "syntax error": ("def rollback(", "def rollback(:"),
    "exception in send": (SEND, SEND + "    raise ValueError('oops')\n"),
    "NameError in send": (SEND, SEND + "    undefined_helper()\n"),
    "KeyboardInterrupt": (SEND, SEND + "    raise KeyboardInterrupt\n"),
    "SystemExit": (SEND, SEND + "    raise SystemExit(3)\n"),
    "RecursionError": (
        SEND,
        SEND + "    check_body(body)\n    return await send(state, server, chat_id, body)\n",
    ),
    "endless loop in send": (SEND, SEND + "    while True:\n        pass\n"),
    "endless loop in reconcile": (RECONCILE, "    while True:\n        pass\n" + RECONCILE),
    "time.sleep(30) in reconcile": (RECONCILE, "    time.sleep(30)\n" + RECONCILE),
    "awaits forever": (SEND, SEND + "    await asyncio.Event().wait()\n"),
    "3 GB allocation": (
        SEND,
        SEND
        + "    hoard = bytearray(3 * 1024**3)\n    hoard[::4096] = b'x' * len(hoard[::4096])\n",
    ),
    "100 MB of output": (SEND, SEND + "    for _ in range(1000):\n        print('x' * 100_000)\n"),
    "async def reconcile": ("def reconcile(", "async def reconcile("),
    "plain def send": ("async def send(", "def send("),
    "exit at import": ("import uuid\n", "import uuid\n\nraise SystemExit(1)\n"),
}
IMPORTS = "import asyncio\nimport time\n"


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
        for name, (old, new) in BROKEN.items():
            assert SOLUTION.count(old) >= 1, name
            source = SOLUTION.replace(old, new, 1).replace(
                "import uuid\n", IMPORTS + "import uuid\n", 1
            )
            flow = Path(folder) / name.replace(" ", "_") / "flow.py"
            flow.parent.mkdir()
            flow.write_text(source)
            seconds, result = grade(flow)
            slowest = max(slowest, seconds)
            print(
                f"{name:<30} {seconds:7.1f}  {result.get('score', '?')!s:>5}  {verdict(result)[:90]}"
            )
    print(f"slowest: {slowest:.1f} s (goal: under 15 s each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
