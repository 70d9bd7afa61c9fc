# syntax=docker/dockerfile:1
# finetune-bot: a multi-stage image. The builder installs the project and its locked
# dependencies (requirements.lock, with the postgres extra) into /install; the runtime copies
# only that, runs as a non-root user and keeps its SQLite database in the /data volume.
#
#   docker build -t finetune-bot .
#   docker run -d -v finetune-bot-data:/data -p 8080:8080 --env-file .env finetune-bot

FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Only what the wheel is built from, and the lock: tests, caches and local databases stay out.
COPY pyproject.toml README.md LICENSE requirements.lock ./
COPY bot ./bot
COPY handlers ./handlers
COPY storage ./storage

# Wheels for exactly the locked dependencies (versions and sha256 hashes from requirements.lock,
# which pins the postgres extra too) and for the project alone (--no-deps: nothing resolved
# anew), then an install from those wheels only (--no-index: nothing on PyPI can stand in for
# the local project, and a dependency missing from the lock fails the build) into a prefix that
# the runtime stage copies wholesale. All dependencies ship manylinux wheels: no compiler.
RUN pip wheel --wheel-dir /wheels --require-hashes -r requirements.lock \
    && pip wheel --wheel-dir /wheels --no-deps . \
    && pip install --prefix=/install --no-index --find-links=/wheels "finetune-bot[postgres]"


FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="finetune-bot" \
      org.opencontainers.image.description="A Slack and Discord bot that runs fine-tuning jobs for teams." \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    DATABASE_URL=sqlite+aiosqlite:////data/finetune-bot.db \
    FINETUNE_BOT_HTTP_PORT=8080

RUN groupadd --system --gid 10001 finetune \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
       --shell /usr/sbin/nologin finetune \
    && mkdir -p /data \
    && chown 10001:10001 /data

COPY --from=builder /install /usr/local

WORKDIR /data
# Declared after the chown so a fresh named volume starts out owned by the bot's user.
VOLUME /data

USER 10001:10001

# Fail the build, not the first start, if the entry point, a native dependency or the bundled
# token encodings are broken; as the runtime user, so matplotlib's font cache is built for it.
RUN finetune-bot --help > /dev/null \
    && python -c "import asyncpg, bot.runtime; from bot.tokenizer import TiktokenTokenizer; \
from bot.charts import MatplotlibChartRenderer; assert TiktokenTokenizer().preload(); \
MatplotlibChartRenderer().render('build check', [])"

EXPOSE 8080

# No curl in the slim image: ask the bot's own /healthz with the standard library, bypassing
# any HTTP(S)_PROXY the deployment sets; a non-2xx answer or no answer exits non-zero.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.build_opener(u.ProxyHandler({})).open('http://127.0.0.1:' + os.environ.get('FINETUNE_BOT_HTTP_PORT', '8080') + '/healthz', timeout=4).close()"]

ENTRYPOINT ["finetune-bot"]
CMD ["run"]
