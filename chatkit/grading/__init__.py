"""The grader: runs the graded scenarios against a target in a child process and reports.

`runner.grade` does the work and returns a `results.GradeReport`; `report` renders it
with rich; `cli` is ``python grader.py``.
"""
