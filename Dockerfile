# A small image for running the bot unattended: python slim, non-root, pinned dependencies.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    RULES_FILE=/app/rules.yaml \
    STATE_DIR=/app/state

WORKDIR /app
COPY pyproject.toml README.md ./
COPY alerts ./alerts
COPY bot.py rules.yaml ./
COPY examples ./examples
RUN pip install --no-compile . \
    && useradd --create-home --uid 10001 bot \
    && mkdir -p /app/state && chown bot:bot /app/state

USER bot
VOLUME ["/app/state"]
# The rules file is validated on each check; a broken file marks the container unhealthy.
HEALTHCHECK --interval=1m --timeout=10s --start-period=30s \
    CMD ["python", "bot.py", "check"]
ENTRYPOINT ["python", "bot.py"]
CMD ["run"]
