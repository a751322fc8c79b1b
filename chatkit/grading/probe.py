"""Import a target in isolation and say, as one JSON line, whether it loads.

Run as ``python -m chatkit.grading.probe PATH`` by the grader before any scenario:
a syntax error, an exception or ``sys.exit`` at import time, or a missing
function, becomes a clear message with the file and line instead of a traceback.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from chatkit.blame import blame_traceback
from chatkit.grading.results import LoadError, Location
from chatkit.target import TargetError, load_flow


def probe(path: Path) -> LoadError | None:
    try:
        load_flow(path)
    except SyntaxError as error:
        return LoadError(
            message=f"{error.msg}",
            error_type=type(error).__name__,
            location=Location(
                file=error.filename or str(path),
                line=error.lineno or 0,
                function="<module>",
                code=(error.text or "").rstrip(),
            ),
        )
    except TargetError as error:
        return LoadError(message=str(error), error_type=None)
    except BaseException as error:  # the learner's module may raise anything, even SystemExit
        message = str(error)
        if isinstance(error, SystemExit):
            message = f"the module called sys.exit({error.code!r}) while being imported"
        return LoadError(
            message=message, error_type=type(error).__name__, location=_where(error, path)
        )
    return None


def _where(error: BaseException, path: Path) -> Location | None:
    where = blame_traceback(error.__traceback__, str(path.parent))
    return None if where is None else Location(where.file, where.line, where.inner, where.code)


def main() -> None:
    error = probe(Path(sys.argv[1]))
    sys.stdout.write(json.dumps(None if error is None else asdict(error)) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
