"""``python -m lib.logs.report``: see ``lib.logs.report.html``."""

import sys

from lib.logs.report.html import main

sys.exit(main())
