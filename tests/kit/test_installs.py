"""How the kit is installed and handed out: any install finds the kit it runs in, a
missing extra names the line that installs it, a learner's copy is whole, and a teacher's
scenario with freezegun, or one that does not import, is graded or reported as written.

The core install itself, not editable and without extras, is run end to end by
``.ci/core-install`` (it needs a fresh environment, so it runs in CI, not here).
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest
from grading_support import run_grader

from chatkit import cli
from chatkit.extras import run_needing_extras
from chatkit.grading.runner import GraderError, grade
from chatkit.kit_home import NotInKit, kit_root
from chatkit.learner_copy import CopyError, learner_readme, write_learner_copy
from chatkit.target import resolve_target

pytestmark = pytest.mark.timeout(120)


def make_kit(folder: Path) -> Path:
    """The least a folder needs to be a kit."""
    (folder / "tests" / "scenarios").mkdir(parents=True)
    (folder / "grader.py").write_text("")
    return folder


def test_the_kit_is_found_from_the_current_folder_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = make_kit(tmp_path / "learner-copy")
    (copy / "starter-code").mkdir()
    monkeypatch.chdir(copy / "starter-code")
    assert kit_root() == copy


def test_outside_a_kit_every_command_says_where_to_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """As after ``pip install .``: the package lives in site-packages, far from any kit."""
    monkeypatch.setattr("chatkit.kit_home.PACKAGE_HOME", tmp_path / "site-packages")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(NotInKit, match="cd into it"):
        kit_root()
    assert cli.main(["grade"]) == 2
    assert cli.main(["hint"]) == 2
    said = capsys.readouterr()
    assert "cd into it" in said.out + said.err
    assert "Traceback" not in said.out + said.err


def test_a_missing_extra_is_named_with_the_line_that_installs_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def needs_textual() -> int:
        raise ModuleNotFoundError("No module named 'textual'", name="textual")

    assert run_needing_extras("demo", needs_textual) == 2
    assert 'pip install -e ".[live]"' in capsys.readouterr().err


def test_a_missing_module_that_is_no_extra_is_not_hidden() -> None:
    def needs_something_else() -> int:
        raise ModuleNotFoundError("No module named 'numpy'", name="numpy")

    with pytest.raises(ModuleNotFoundError):
        run_needing_extras("chat", needs_something_else)


def test_the_learner_readme_leaves_out_what_is_marked() -> None:
    readme = textwrap.dedent(
        """\
        # Kit
        Write send.
        <!-- classroom: cut -->
        Compare with solution/flow.py.
        <!-- classroom: end -->
        Run the grader.
        """
    )
    assert learner_readme(readme) == "# Kit\nWrite send.\nRun the grader.\n"


@pytest.fixture(scope="module")
def learner_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("handout") / "kit"
    write_learner_copy(out)
    return out


def test_a_learner_copy_has_no_reference_and_no_kit_tests(learner_copy: Path) -> None:
    assert not (learner_copy / "solution").exists()
    assert not (learner_copy / "tests" / "kit").exists()
    assert not (learner_copy / "benchmarks").exists()
    assert (learner_copy / "starter-code" / "flow.py").is_file()
    assert (learner_copy / "tests" / "scenarios").is_dir()
    readme = (learner_copy / "README.md").read_text(encoding="utf-8")
    assert "<!-- classroom" not in readme
    assert 'testpaths = ["tests/live"]' in (learner_copy / "pyproject.toml").read_text()


def test_a_learner_copy_is_never_written_over_anything(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    with pytest.raises(CopyError, match="not empty"):
        write_learner_copy(tmp_path / "taken")
    with pytest.raises(CopyError, match="inside the kit"):
        write_learner_copy(kit_root() / "handout")


def run_grader_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The learner copy's own grader, run from it with nothing of this environment."""
    env = {"COLUMNS": "100", "NO_COLOR": "1", "PATH": ""}
    return run_grader(*args, cwd=folder, grader=folder / "grader.py", env=env)


def test_in_a_learner_copy_the_grader_grades_the_starter_and_says_the_reference_is_absent(
    learner_copy: Path,
) -> None:
    starter = run_grader_in(learner_copy, "--quiet", "--family", "normal flow")
    assert starter.returncode == 1, starter.stdout + starter.stderr
    reference = run_grader_in(learner_copy, "--target", "solution")
    assert reference.returncode == 2
    said = " ".join(reference.stdout.replace("│", " ").split())
    assert "Nothing to grade there" in said
    assert "has no solution/ folder" in said and "--target starter" in said
    assert "could not be loaded" not in said


def teacher_scenarios(folder: Path, source: str) -> Path:
    folder.mkdir()
    (folder / "test_teacher.py").write_text(textwrap.dedent(source))
    return folder


def test_a_teacher_scenario_written_with_freeze_time_runs_on_its_frozen_clock(
    tmp_path: Path,
) -> None:
    folder = teacher_scenarios(
        tmp_path / "teacher",
        """\
        from datetime import UTC, datetime

        import pytest
        from freezegun import freeze_time

        pytestmark = pytest.mark.family("greetings")


        async def test_the_message_carries_the_frozen_time(kit):
            with freeze_time("2026-05-01 09:00:00") as frozen:
                first = await kit.send("good morning")
                frozen.tick(60)
                second = await kit.send("a minute later")
            rows = {row.body: row.created_at for row in kit.state().chat(kit.chat_id).rows}
            assert rows["good morning"] == datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
            assert rows["a minute later"] == datetime(2026, 5, 1, 9, 1, tzinfo=UTC)
            await kit.ack(first)
            await kit.ack(second)
        """,
    )
    report = grade("solution", tests=[folder])
    assert [result.outcome.value for result in report.results] == ["passed"], report.results


def test_a_teacher_scenario_that_does_not_import_is_reported_with_its_file_and_line(
    tmp_path: Path,
) -> None:
    folder = teacher_scenarios(
        tmp_path / "teacher",
        """\
        import pytest
        import freezegun
        import no_such_module_anywhere

        pytestmark = pytest.mark.family("greetings")


        async def test_never_runs(kit):
            await kit.send("hi")
        """,
    )
    with pytest.raises(GraderError) as raised:
        grade("solution", tests=[folder])
    said = str(raised.value)
    assert "test_teacher.py:3" in said
    assert "No module named 'no_such_module_anywhere'" in said


def test_named_targets_resolve_in_the_kit_the_command_runs_in(learner_copy: Path) -> None:
    assert resolve_target("starter").is_relative_to(kit_root())
