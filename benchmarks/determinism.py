"""Does the same code get the same grade every time? Grade each known-wrong flow N times.

Every known-wrong and subtle flow of ``tests/kit/mistakes.py`` is written out, graded
``--runs`` times (20 by default) through the grader's own ``--json``, and the outputs
are compared byte for byte. Ids from the clock or from ``random`` are the usual
source of a score that moves; the scripted clock and seeded chance should leave none.
When a flow's outputs differ, the lines where they do are printed, so the cause can
be found without grading it again.

Run: ``python benchmarks/determinism.py`` (``--runs 5`` for a quicker look;
``--flow NAME``, repeatable, for some flows only).
"""

from __future__ import annotations

import argparse
import collections
import difflib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chatkit.kit_home import kit_root

sys.path.insert(0, str(kit_root() / "tests" / "kit"))
from mistakes import write_all  # the mistakes live beside the kit's tests


def grade_json(flow: Path, out: Path) -> bytes:
    subprocess.run(
        [sys.executable, "grader.py", "--target", str(flow.parent), "--json", str(out), "--quiet"],
        cwd=kit_root(),
        capture_output=True,
        check=False,
    )
    return out.read_bytes()


def differences(outputs: list[bytes], context: int = 40) -> list[str]:
    """Where each output that is not the most common one differs from it (a few lines each)."""
    counted = collections.Counter(outputs)
    usual = counted.most_common(1)[0][0].decode().splitlines()
    lines: list[str] = []
    for other, times in counted.most_common()[1:]:
        lines.append(f"  -- {times} of {len(outputs)} runs gave instead:")
        diff = difflib.unified_diff(usual, other.decode().splitlines(), lineterm="", n=1)
        lines += [f"  {line[:200]}" for line in list(diff)[2:context]]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--flow", action="append", help="grade only this flow (repeatable)")
    args = parser.parse_args()
    moved = 0
    with tempfile.TemporaryDirectory() as folder:
        flows = write_all(Path(folder) / "flows")
        chosen = {name: flow for name, flow in flows.items() if not args.flow or name in args.flow}
        if not chosen:
            parser.error(f"no such flow; the flows are: {', '.join(flows)}")
        print(f"{'flow':<26} {'runs':>4} {'distinct':>8}  score  seconds/run")
        for name, flow in chosen.items():
            start = time.perf_counter()
            outputs = [grade_json(flow, Path(folder) / f"{name}.json") for _ in range(args.runs)]
            seconds = (time.perf_counter() - start) / args.runs
            distinct = len(set(outputs))
            score = outputs[-1].split(b'"score": ', 1)[1].split(b",", 1)[0].decode()
            moved += distinct > 1
            print(f"{name:<26} {args.runs:>4} {distinct:>8}  {score:>5}  {seconds:8.2f}")
            if distinct > 1:
                print("\n".join(differences(outputs)), flush=True)
    print(f"{moved} of {len(chosen)} flows gave more than one distinct --json output")
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
