"""``python -m croton``: the same as the ``croton`` command."""

import sys

from croton.cli import main

sys.exit(main())
