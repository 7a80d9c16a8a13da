"""``python -m lib.logs.datasets ensure``: see ``lib.logs.datasets.nasa``."""

import sys

from lib.logs.datasets.nasa import main

sys.exit(main())
