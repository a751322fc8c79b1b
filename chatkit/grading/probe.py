"""Import a target in isolation and say, as one JSON line, whether it loads.

Run as ``python -m chatkit.grading.probe PATH`` by the grader before any scenario:
a syntax error, an exception or ``sys.exit`` at import time, or a missing
function, becomes a clear message with the file and line instead of a traceback.
It runs the learner's module-level code, so it confines itself first, as the grader's
child does (`chatkit.sandbox.confine`), with nowhere to write.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from chatkit.blame import load_failure
from chatkit.grading.results import LoadError, Location
from chatkit.portable import limit_memory
from chatkit.sandbox.confine import confine_if_asked
from chatkit.target import load_flow


def probe(path: Path) -> LoadError | None:
    try:
        load_flow(path)
    except BaseException as error:  # the learner's module may raise anything, even SystemExit
        failure = load_failure(error, path)
        place = failure.place
        location = None
        if place is not None:
            location = Location(place.file, place.line, place.inner, place.code)
        return LoadError(failure.message, failure.error_type, location)
    return None


def main() -> None:
    # What writes the verdict is held here before the learner's module runs: it may change
    # this module's names (its own code never can, but Python's may be led to), not these.
    dumps, as_dict, flush, write, leave = json.dumps, asdict, sys.stdout.flush, os.write, os._exit
    path = Path(sys.argv[1])
    limit_memory()
    confine_if_asked(path.resolve().parent, [])
    error = probe(path)
    verdict = dumps(None if error is None else as_dict(error))
    flush()  # what the module printed first, then the verdict on a line of its own
    write(1, f"\n{verdict}\n".encode())
    # The last line is the verdict: no finaliser of the learner's may print after it.
    leave(0)


if __name__ == "__main__":
    main()
