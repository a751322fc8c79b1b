"""Does the same code get the same grade every time? Grade each known-wrong flow N times.

Every known-wrong and subtle flow of ``tests/kit/mistakes.py`` is written out, graded
``--runs`` times (20 by default) through the grader's own ``--json``, and the outputs
are compared byte for byte. Ids from the clock or from ``random`` are the usual
source of a score that moves; the scripted clock and seeded chance should leave none.

Run: ``python benchmarks/determinism.py`` (``--runs 5`` for a quicker look).
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chatkit.target import kit_root

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    moved = 0
    with tempfile.TemporaryDirectory() as folder:
        flows = write_all(Path(folder) / "flows")
        print(f"{'flow':<26} {'runs':>4} {'distinct':>8}  score  seconds/run")
        for name, flow in flows.items():
            start = time.perf_counter()
            outputs = [grade_json(flow, Path(folder) / f"{name}.json") for _ in range(runs)]
            seconds = (time.perf_counter() - start) / runs
            distinct = {hashlib.sha256(output).hexdigest() for output in outputs}
            score = outputs[-1].split(b'"score": ', 1)[1].split(b",", 1)[0].decode()
            moved += len(distinct) > 1
            print(f"{name:<26} {runs:>4} {len(distinct):>8}  {score:>5}  {seconds:8.2f}")
    print(f"{moved} of {len(flows)} flows gave more than one distinct --json output")
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
