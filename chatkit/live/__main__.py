"""``python -m chatkit.live``: run the live chat server (see ``--help``)."""

import sys

from chatkit.live.cli import main

sys.exit(main())
