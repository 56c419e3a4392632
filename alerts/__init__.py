"""conflict-alerts: a scheduled alerting bot for conflict developments."""

__version__ = "0.1.0"
