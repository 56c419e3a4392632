# A small image for running the bot unattended: python slim, non-root, pinned dependencies.
#
#   docker build -t conflict-alerts .
#   docker run -d -e TELEGRAM_BOT_TOKEN -v alerts-state:/app/state \
#     -v "$PWD/rules.yaml:/app/rules.yaml:ro" conflict-alerts
#
# See docker-compose.yml for the same with a restart policy and the metrics port.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    RULES_FILE=/app/rules.yaml \
    STATE_DIR=/app/state

WORKDIR /app
# The dependencies first, in a layer of their own that only pyproject.toml can change: its
# [project] dependencies, the exact pins, read with tomllib. A code change reuses this layer.
# The project itself is not pip-installed: the bot runs from its source here (python bot.py).
COPY pyproject.toml ./
RUN python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-compile', *deps], check=True)" \
    && useradd --create-home --uid 10001 bot \
    && mkdir -p /app/state && chown bot:bot /app/state
# Then the code, which changes often.
COPY alerts ./alerts
COPY bot.py rules.yaml ./
COPY examples ./examples
# The gazetteer's and the lexicon's word forms, built now while alerts/ is writable: each start
# reads them (alerts/__pycache__/*.json) instead of building them with pymorphy3 (seconds).
RUN python -c "from alerts.lexicon import builtin_lexicon; builtin_lexicon()"

USER bot
# The database lives here; mount a volume so it outlives the container.
VOLUME ["/app/state"]
# Healthy when the running bot wrote its heartbeat to the database within the last minute and
# at least one feed answered a poll within its expected interval (`bot.py status --check`; see
# the README's "Health and metrics"); works whether or not http_port is set.
HEALTHCHECK --interval=1m --timeout=15s --start-period=1m --retries=3 \
    CMD ["python", "bot.py", "status", "--check"]
ENTRYPOINT ["python", "bot.py"]
CMD ["run"]
