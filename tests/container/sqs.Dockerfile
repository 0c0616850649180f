# An SQS endpoint for the compose test (test_compose.py): moto's server, at the
# version the tests run, on the worker image's own base. The test's compose
# override puts it where docker-compose.yml has ElasticMQ.
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}
ARG MOTO_VERSION
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# moto's server needs only flask and flask-cors beyond moto itself (moto[server] brings every service's).
RUN python -m venv /opt/moto && /opt/moto/bin/pip install "moto==${MOTO_VERSION}" flask flask-cors
EXPOSE 9324
# SIGINT stops moto's server (KeyboardInterrupt); as PID 1 it would ignore SIGTERM, having no handler.
STOPSIGNAL SIGINT
CMD ["/opt/moto/bin/python", "-m", "moto.server", "-H", "0.0.0.0", "-p", "9324"]
