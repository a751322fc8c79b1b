"""The one answer to "is this code from that folder?": the learner's, or the kit's.

Blame, the hang watch, the scenario plugin and the explorer each ask it of a frame's
code. A plain prefix test on the file name would take ``solution-old/`` for
``solution/``; this one tests the folder and a separator, resolved once.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import CodeType


class CodeFolder:
    """A folder whose code is told apart from everyone else's (answers are cached per code)."""

    def __init__(self, folder: Path | str) -> None:
        self.path = Path(folder).resolve()
        self.prefix = str(self.path) + os.sep
        self._known: dict[CodeType, bool] = {}

    def holds(self, code: CodeType) -> bool:
        """Whether ``code`` was compiled from a file inside this folder (or below it)."""
        known = self._known.get(code)
        if known is None:
            known = self._known[code] = code.co_filename.startswith(self.prefix)
        return known
