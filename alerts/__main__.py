"""``python -m alerts`` is the same command line as ``python bot.py``."""

import sys

from .cli import main

sys.exit(main())
