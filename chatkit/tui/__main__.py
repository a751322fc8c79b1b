"""``python -m chatkit.tui demo`` or ``python -m chatkit.tui chat --user NAME``."""

import sys

from chatkit.tui.cli import main

sys.exit(main())
