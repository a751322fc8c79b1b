"""Grade your flow: ``python grader.py`` (the starter), ``--target solution``, or ``--target PATH``.

See ``python grader.py --help`` and the README.
"""

import sys

from chatkit.grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
