"""How long a class of 30 takes to grade, and whether each grade is a single grading's.

The class: the starter, the solution, a flow that hangs (an endless loop in ``send``), one
the grader refuses (it imports ``os``), and known-wrong and subtle flows of
``tests/kit/mistakes.py`` to make 30, four of them handed in as a learner's whole copy of
the kit. It is graded
once by the class grader, on every core, and timed (the goal: under 45 s on two cores).
Then each folder is graded again on its own, one after the other, and its exercism
results compared with the class's: they must be equal, every one.

Run: ``python benchmarks/class.py`` (``--jobs N`` to change how many grade at once).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

from chatkit.grading.class_grading import LearnerGrade, default_jobs, grade_class
from chatkit.grading.exports import exercism
from chatkit.grading.runner import grade
from chatkit.grading.submissions import Submission, class_submissions
from chatkit.kit_home import kit_root

sys.path.insert(0, str(kit_root() / "tests" / "kit"))
from mistakes import MISTAKES, broken_source, flow_source  # the flows live beside the tests

CLASS_SIZE = 30
KIT_COPIES = 4
"""How many of the class hand in their whole copy of the kit instead of a flow."""
GOAL_SECONDS = 45.0


def write_class(root: Path) -> list[Submission]:
    """The 30 folders of the class, as a teacher would collect them."""
    solution = (kit_root() / "solution" / "flow.py").read_text()
    flows = {
        "starter": (kit_root() / "starter-code" / "flow.py").read_text(),
        "solution": solution,
        "hangs": broken_source("endless loop in send"),
        "refused": "import os\n" + solution,
    }
    mistakes = sorted(MISTAKES)[: CLASS_SIZE - len(flows)]
    copies = mistakes[:KIT_COPIES]
    flows |= {name: flow_source(MISTAKES[name]) for name in mistakes[KIT_COPIES:]}
    for name, source in flows.items():
        (root / name).mkdir()
        (root / name / "flow.py").write_text(source)
    for name in copies:  # a learner's whole kit copy: the flow in starter-code/
        (root / f"kit-copy-{name}" / "starter-code").mkdir(parents=True)
        (root / f"kit-copy-{name}" / "starter-code" / "flow.py").write_text(
            flow_source(MISTAKES[name])
        )
    return class_submissions(root)


def children_cpu() -> float:
    """Processor seconds used so far by the processes the gradings started."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def load() -> str:
    """The machine's load average over the last minute: how busy it was besides."""
    return f"{os.getloadavg()[0]:.1f}"


def same_as_single(graded: LearnerGrade) -> bool:
    alone = grade(str(graded.submission.target))
    return json.dumps(exercism(alone), sort_keys=True) == json.dumps(
        exercism(graded.report), sort_keys=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=default_jobs())
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        submissions = write_class(Path(folder))
        assert len(submissions) == CLASS_SIZE, len(submissions)
        print(f"{len(submissions)} submissions, {args.jobs} at a time, {os.cpu_count()} cores")
        before, start = children_cpu(), time.perf_counter()
        grades = grade_class(submissions, jobs=args.jobs)
        seconds, cpu = time.perf_counter() - start, children_cpu() - before
        verdict = "within" if seconds < GOAL_SECONDS else "OVER"
        print(f"class graded in {seconds:.1f} s ({verdict} the {GOAL_SECONDS:g} s goal)")
        print(
            f"processor time of the gradings: {cpu:.1f} s, so at best {cpu / args.jobs:.1f} s "
            f"with {args.jobs} at a time on an idle machine (load average now {load()})\n"
        )
        print(f"{'learner':<32} {'status':<11} {'score':>5} {'seconds':>8}  single grading")
        unequal = 0
        for graded in grades:
            equal = same_as_single(graded)
            unequal += not equal
            print(
                f"{graded.learner:<32} {graded.status.value:<11} {graded.report.score:>5} "
                f"{graded.seconds:>8.1f}  {'equal' if equal else 'DIFFERENT'}"
            )
        print(f"\n{CLASS_SIZE - unequal} of {CLASS_SIZE} grades equal to a single grading")


if __name__ == "__main__":
    main()
