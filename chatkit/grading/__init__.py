"""The grader: runs the graded scenarios against a target in a child process and reports.

`runner.grade` checks the target (`trust`: refused grades), runs it in a child process
(`plugin` there, one `results` message per event, with `pointer` finding a line to look
at when no line of the learner's made the bad change) and returns a `results.GradeReport`.
`summary` decides what a report tells — the one failure to fix next and the function it
names, the other failures by reason, what a partial run graded — and every renderer reads
it: `report` draws it with rich, each failure's race drawn by `diagram` and
`diagram_text`; `html_report` (with `diagram_svg`) and `exports` write it for the web and
for CI; `cli` is ``python grader.py``, with `hints`, `watch` and `compare`.

For teachers (`teacher_cli`): `visibility` keeps a teacher's hidden scenarios from the
learner; `class_grading` grades a class (`submissions` finds each learner's flow), which
`class_summary` sums up and `class_files` writes out, with `saved` for whole reports;
`gradescope` writes Gradescope's results and `autograder` its autograder zip.
"""
