# The choreographer worker. Build: docker build -t briefy-choreographer .
FROM python:3.11-slim AS build
WORKDIR /src
COPY setup.py pyproject.toml README.rst ./
COPY src ./src
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    CHOREOGRAPHER_MODE=production
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && useradd --system --uid 10001 --no-create-home choreographer
USER choreographer
CMD ["python", "-m", "briefy.choreographer.worker"]
