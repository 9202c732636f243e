# syntax=docker/dockerfile:1
# alertbot container image: the bot as a non-root process, its config and plugins mounted read-only,
# its state (SQLite outbox, alerts, silences) on a volume. Build: `docker build -t alertbot .`
# Run: see compose.yaml and README.md ("Running in a container").
#
# Why wheels and not a copied venv: the builder turns the project and every dependency into
# wheels (the only step that may need a compiler or the network), the final stage installs them
# with `--no-index` from a bind mount, so nothing of the builder (sources, wheels, build
# backends, caches) lands in a layer of the image, and the install is the exact `pip install
# alertbot-*.whl` that tests/test_container.py runs in a fresh venv. Both stages use the same
# base, so the venv's interpreter is the one it was created with. The base is pinned to a minor
# version and a Debian release; a rebuild picks up their security patches (pin a digest,
# python:3.11-slim-bookworm@sha256:..., for bit-for-bit rebuilds).

# ---- builder: wheels for the project and its dependencies ----
FROM python:3.11-slim-bookworm AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# Exactly the build inputs (.dockerignore admits nothing else into the context).
COPY pyproject.toml README.md LICENSE ./
COPY alertbot ./alertbot
RUN pip wheel --wheel-dir /wheels .

# ---- final: the runtime, no build tools, no sources, no caches ----
FROM python:3.11-slim-bookworm

ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="alertbot" \
      org.opencontainers.image.description="Alerting bot for dYdX v4 traders: Indexer WebSocket in, rules.yaml, alerts out." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="docker.io/library/python:3.11-slim-bookworm"

ENV VIRTUAL_ENV=/opt/alertbot \
    PATH=/opt/alertbot/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ALERTBOT_STATE_DIR=/state \
    ALERTBOT_PLUGINS_DIR=/plugins \
    ALERTBOT_HTTP_LISTEN=0.0.0.0:8080

# A fixed UID/GID so volume ownership is predictable on every host. /state is the only place the
# bot writes; /config and /plugins stay root-owned so the process cannot rewrite its own rules or
# plugin code (they are mounted read-only anyway).
RUN groupadd --system --gid 10001 alertbot \
    && useradd --system --no-log-init --uid 10001 --gid 10001 \
        --home-dir /state --no-create-home --shell /usr/sbin/nologin alertbot \
    && mkdir -p /config /plugins /state \
    && chown 10001:10001 /state \
    && chmod 0750 /state

# Bytecode is compiled at install time (pip's default): /opt/alertbot is read-only to the bot,
# so it could not write .pyc files at run time and would recompile on every start.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/alertbot \
    && /opt/alertbot/bin/pip install --no-index --find-links=/wheels /wheels/alertbot-*.whl

USER 10001:10001
WORKDIR /state
VOLUME ["/config", "/plugins", "/state"]

# Health and metrics: ALERTBOT_HTTP_LISTEN makes the bot listen on all interfaces inside the
# container (for the port mapping); the probe runs inside, on loopback.
EXPOSE 8080
# Stdlib only (slim has no curl); -I keeps the writable working directory off sys.path.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/alertbot/bin/python", "-I", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]

# SIGTERM stops the source and drains the outbox; compose gives it stop_grace_period: 30s.
STOPSIGNAL SIGTERM
ENTRYPOINT ["alertbot"]
CMD ["run", "-c", "/config/rules.yaml"]
