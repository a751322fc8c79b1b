"""The teacher's commands and options: ``chatkit grade-class``, ``chatkit gradescope`` and,
on the grader, ``--hidden`` and ``--gradescope``.

``chatkit grade-class SUBMISSIONS --out OUT`` grades every learner's folder at once and
writes `chatkit.grading.class_files`'s ``OUT/``. Exit status: 0 every submission got a
grade (whatever its score), 1 some could not be graded (refused, not loaded, or the
grader failed on it; the summary names them), 2 there is nothing to grade.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.text import Text

from chatkit.grading.autograder import build_autograder
from chatkit.grading.class_files import render_summary, write_class
from chatkit.grading.class_grading import LearnerGrade, Status, default_jobs, grade_class
from chatkit.grading.gradescope import write_gradescope
from chatkit.grading.report import plain_console
from chatkit.grading.results import GradeReport
from chatkit.grading.submissions import class_submissions
from chatkit.grading.visibility import learner_view


def add_tests_argument(parser: argparse.ArgumentParser) -> None:
    """``--tests PATH``: a teacher's scenarios instead of the kit's (single and class grading)."""
    parser.add_argument(
        "--tests",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="grade these scenario files or folders instead of the kit's (repeatable)",
    )


def add_hidden_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hidden",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="add a teacher's scenario file or folder that counts but that the learner sees "
        'only as "hidden scenario failed in family X" (repeatable)',
    )


def add_grader_arguments(parser: argparse.ArgumentParser) -> None:
    """The grader's teacher options: ``--hidden PATH`` and ``--gradescope PATH``."""
    add_hidden_argument(parser)
    parser.add_argument(
        "--gradescope", type=Path, metavar="PATH", help="write Gradescope's results.json"
    )


def after_grading(report: GradeReport, args: argparse.Namespace) -> GradeReport:
    """Write ``--gradescope`` from the whole report; the rest of the grader shows the
    learner's view, where hidden scenarios say only which family they are in."""
    if getattr(args, "gradescope", None):
        write_gradescope(report, args.gradescope)
    return learner_view(report)


def add_teacher_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """``grade-class`` and ``gradescope``, for the ``chatkit`` command."""
    grade = commands.add_parser(
        "grade-class",
        help="grade every learner's folder at once: a CSV, a summary, each learner's reports",
        description="Grade every folder of SUBMISSIONS (each holds a learner's flow.py, or "
        "their copy of the kit) on every core, and write OUT/class.csv, OUT/summary.txt, "
        "OUT/learners/NAME/ (to hand back) and OUT/teacher/NAME/ (everything).",
    )
    grade.add_argument(
        "submissions", type=Path, metavar="SUBMISSIONS", help="a folder per learner, by name"
    )
    grade.add_argument(
        "--out",
        type=Path,
        default=Path("class-grades"),
        metavar="OUT",
        help="where the reports go (default: class-grades)",
    )
    add_tests_argument(grade)
    add_hidden_argument(grade)
    grade.add_argument(
        "--jobs",
        type=int,
        default=default_jobs(),
        metavar="N",
        help="how many submissions to grade at once (default: one per core)",
    )
    grade.set_defaults(func=run_grade_class)

    pack = commands.add_parser(
        "gradescope",
        help="build a Gradescope autograder zip (setup.sh, run_autograder, the kit)",
    )
    pack.add_argument("zip", type=Path, metavar="OUT.zip", help="the zip to write")
    pack.add_argument(
        "--tests",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="grade with these scenario files or folders instead of the kit's (repeatable)",
    )
    add_hidden_argument(pack)
    pack.set_defaults(func=run_gradescope)


def run_grade_class(args: argparse.Namespace) -> int:
    console = plain_console()
    if not args.submissions.is_dir():
        console.print(Text(f"No folder {args.submissions}", style="red"))
        return 2
    submissions = class_submissions(args.submissions)
    if not submissions:
        console.print(Text(f"{args.submissions} holds no learner's folder", style="red"))
        return 2
    console.print(f"grading {len(submissions)} submissions, {args.jobs} at a time")
    grades = grade_class(
        submissions,
        tests=args.tests,
        hidden=args.hidden,
        jobs=args.jobs,
        on_graded=lambda grade: console.print(_progress_line(grade)),
    )
    summary = write_class(grades, args.out)
    console.print()
    console.print(render_summary(summary), soft_wrap=True)
    console.print(f"\nwritten to {args.out}/: class.csv, summary.txt, learners/, teacher/")
    return 0 if summary.graded == summary.learners else 1


def _progress_line(grade: LearnerGrade) -> Text:
    seconds = (f"{grade.seconds:.1f} s", "dim")
    if grade.status is Status.GRADED:
        return Text.assemble(f"  {grade.learner}: {grade.report.score}/100 ", seconds)
    return Text.assemble(("  " + f"{grade.learner}: {grade.status.value}", "yellow"), " ", seconds)


def run_gradescope(args: argparse.Namespace) -> int:
    names = build_autograder(args.zip, tests=args.tests, hidden=args.hidden)
    plain_console().print(
        f"{args.zip}: {len(names)} files; upload it as the assignment's "
        "autograder (Gradescope: Configure Autograder › Zip file upload)"
    )
    return 0
