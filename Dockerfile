# The serving image: the gRPC server with the bundled model, nothing else.
#
# Build it with `make image`, which first builds the project's wheel and a wheelhouse of its
# dependencies (`make wheelhouse`), so the image holds exactly the wheel that is released and
# `docker build` needs no network (no index, no proxy, works with the classic builder too).
#
#   docker run --rm --read-only --tmpfs /tmp -p 50051:50051 -p 9464:9464 diabetes-serving
#
# Configuration is by environment variables (DIABETES_PORT, DIABETES_MODEL, DIABETES_THREADS,
# DIABETES_METRICS_PORT, DIABETES_LOG_LEVEL, ...), or flags after the image name.

# Any Python 3.11+ image on glibc with `python3 -m venv` works; the default is the public one.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS build
# Lets a cleanup find this stage's leftover image (the classic builder keeps it).
LABEL diabetes-serving.stage="build"
# The project's wheels (service and client), every dependency's wheel and their hash lock
# (make wheelhouse).
COPY dist/wheelhouse/ /wheels/
# Dependencies only as locked (each file's sha256 checked), then the project without resolving.
# The venv is copied whole into the final stage; pip, setuptools and test suites stay behind.
RUN python3 -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links=/wheels \
       --require-hashes -r /wheels/serving.lock \
    && /opt/venv/bin/pip install --no-cache-dir --no-index --no-deps \
       /wheels/diabetes_client-*.whl /wheels/diabetes_serving-*.whl \
    && /opt/venv/bin/pip uninstall --yes pip setuptools \
    && find /opt/venv -depth -type d -name tests -path '*/numpy/*' -exec rm -rf {} + \
    && /opt/venv/bin/python -c "import command_settings, server, model, diabetes.v1.prediction_pb2_grpc"

FROM ${BASE_IMAGE} AS runtime
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="diabetes-serving" \
      org.opencontainers.image.description="Diabetes progression model served over gRPC" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

RUN groupadd --system --gid 10001 diabetes \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin diabetes

COPY --from=build /opt/venv /opt/venv

# Bytecode was compiled at install time; the root filesystem may be read-only at run time.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DIABETES_HOST=0.0.0.0 \
    DIABETES_PORT=50051 \
    DIABETES_METRICS_PORT=9464

USER 10001:10001
# gRPC (Predict, PredictBatch, GetModelInfo, health, reflection) and Prometheus metrics.
EXPOSE 50051 9464
# Asks the server's own grpc.health.v1 service on DIABETES_PORT; exits non-zero unless SERVING.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python3", "-I", "-m", "server.healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["diabetes-server"]
