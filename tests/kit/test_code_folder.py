"""One test of "is this code the learner's", used by blame, the hang watch and the plugin."""

from __future__ import annotations

from pathlib import Path
from types import CodeType

from chatkit.code_folder import CodeFolder


def code_in(path: Path) -> CodeType:
    path.parent.mkdir(parents=True, exist_ok=True)
    return compile("x = 1\n", str(path), "exec")


def test_code_below_the_folder_is_its_own(tmp_path: Path) -> None:
    folder = CodeFolder(tmp_path / "solution")
    assert folder.holds(code_in(tmp_path / "solution" / "flow.py"))
    assert folder.holds(code_in(tmp_path / "solution" / "deep" / "helpers.py"))


def test_a_sibling_folder_that_starts_alike_is_not(tmp_path: Path) -> None:
    """``solution-old/flow.py`` is not in ``solution/``, though its name starts the same."""
    folder = CodeFolder(tmp_path / "solution")
    assert not folder.holds(code_in(tmp_path / "solution-old" / "flow.py"))
