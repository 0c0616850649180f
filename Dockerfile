# The choreographer worker: a small production image.
#
#   docker build -t briefy-choreographer .
#   docker compose up --build        # the worker next to ElasticMQ (docker-compose.yml)
#
# Production mode (no embedded SQS endpoint, JSON logs, personal data redacted),
# metrics and health on port 8000, run as an unprivileged user. Configure it with
# the environment variables of README "Configuration".
#
# What goes in is pinned: every Python distribution by version and hash
# (docker/requirements.txt, refreshed by `make lock`), the base image by tag here
# and by digest when you ask for it, which is what a reproducible build needs:
#
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest> -t briefy-choreographer .
#
# The digest is the registry's for the tag: `docker buildx imagetools inspect
# python:3.11-slim` (or `skopeo inspect docker://docker.io/library/python:3.11-slim`)
# prints it, and `docker images --digests python` shows the one pulled.
ARG PYTHON_IMAGE=python:3.11-slim

# -- build: a virtualenv holding the package and its dependencies --------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# The locked dependencies first: this layer stays cached until the lock changes.
COPY docker/requirements.txt ./
RUN /opt/venv/bin/pip install --require-hashes -r requirements.txt
COPY setup.py pyproject.toml README.rst ./
COPY src ./src
# The package alone, built with the locked setuptools; `pip check` fails the build
# if the lock lacks a dependency setup.py asks for.
RUN /opt/venv/bin/pip install --no-deps --no-build-isolation . \
    && /opt/venv/bin/pip check \
    && /opt/venv/bin/pip uninstall --yes pip setuptools wheel

# -- run: the virtualenv only, no compiler, no pip cache, no sources -----------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CHOREOGRAPHER_MODE=production \
    CHOREOGRAPHER_METRICS_HOST=0.0.0.0 \
    CHOREOGRAPHER_METRICS_PORT=8000 \
    CHOREOGRAPHER_ZCML=/etc/choreographer/configure.zcml
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin choreographer
COPY --from=build /opt/venv /opt/venv
# The site configuration of the repository; an image of your own copies its own here.
COPY configure.zcml /etc/choreographer/configure.zcml
USER 10001
EXPOSE 8000
# Liveness: the worker's loop is turning. The slim image has no curl: Python asks.
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('CHOREOGRAPHER_METRICS_PORT', '8000'), timeout=4)"]
# SIGTERM: stop receiving, finish the batches in progress, exit 0 (allow it
# CHOREOGRAPHER_SHUTDOWN_TIMEOUT seconds: docker stop --time, stop_grace_period).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "briefy.choreographer.worker"]
