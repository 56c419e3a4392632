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
# Their bytecode is written now (pip's), and the standard library's (compileall; the base image
# may ship none): PYTHONDONTWRITEBYTECODE keeps the bot from writing any when it runs, so without
# it every start (each `once`, each health check) would compile every module it imports again,
# 1.5 s of CPU for an unchanged poll that takes 2 s with bytecode.
COPY pyproject.toml ./
RUN python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.run([sys.executable, '-m', 'pip', 'install', *deps], check=True)" \
    && python -m compileall -q -j 0 -x '/(test|tests|idle_test)/' \
        "$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')" \
    && useradd --create-home --uid 10001 bot \
    && mkdir -p /app/state && chown bot:bot /app/state
# Then the code, which changes often.
COPY alerts ./alerts
COPY bot.py rules.yaml ./
COPY examples ./examples
# The code's bytecode and the gazetteer's and the lexicon's word forms, built now while alerts/
# is writable: each start reads them (alerts/__pycache__/) instead of compiling every module
# and building the forms with pymorphy3 (seconds).
RUN python -m compileall -q alerts \
    && python -c "from alerts.lexicon import builtin_lexicon; builtin_lexicon()"

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
