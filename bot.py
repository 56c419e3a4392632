#!/usr/bin/env python3
"""The bot's command line: ``python bot.py run|once|check|explain|status|stats`` (README.md)."""

import sys

from alerts.cli import main

if __name__ == "__main__":
    sys.exit(main())
