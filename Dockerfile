# syntax=docker/dockerfile:1
# krayne-bot: one process, `krayne-bot serve`. Build: docker build -t krayne-bot:0.1.0 .
#
# Stage 1 builds a wheel from the package metadata (pyproject.toml) and installs it, with its
# dependencies, into a virtual environment. Stage 2 copies only that environment onto a fresh
# slim base: no compiler, no pip cache, no source tree. .ci/wheel-smoke.sh runs the same steps
# (wheel -> fresh venv -> `krayne-bot --help`) in CI, where no container engine is available.

# The Python the tests run on. For reproducible builds pin it by digest in your pipeline:
#   --build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY core ./core
COPY manifests ./manifests
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m venv /opt/krayne \
 && /opt/krayne/bin/pip install /wheels/*.whl \
 && /opt/krayne/bin/pip uninstall --yes pip \
 && /opt/krayne/bin/krayne-bot --help >/dev/null

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="krayne-bot" \
      org.opencontainers.image.description="Ray clusters on Kubernetes from Slack" \
      org.opencontainers.image.licenses="Apache-2.0"
# The same numeric ids as runAsUser/runAsGroup in deploy/base/deployment.yaml; numeric USER
# lets the kubelet verify runAsNonRoot without reading /etc/passwd.
RUN groupadd --system --gid 10001 krayne \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin krayne
COPY --from=build /opt/krayne /opt/krayne
ENV PATH=/opt/krayne/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 3000
ENTRYPOINT ["krayne-bot"]
CMD ["serve", "--port", "3000"]
