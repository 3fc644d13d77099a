# syntax=docker/dockerfile:1
# The ingress-reconciler image: the package installed from this source tree into a virtualenv on
# python:3.11-slim, run as a non-root user. The chart mounts the configuration at
# /etc/ingress-reconciler/config.yaml and runs the root filesystem read-only.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Dependencies first, so a source change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p reconciler providers \
    && touch reconciler/__init__.py providers/__init__.py \
    && /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall -y ingress-reconciler
COPY reconciler ./reconciler
COPY providers ./providers
RUN /opt/venv/bin/pip install --no-deps . \
    && /opt/venv/bin/ingress-reconciler version

FROM python:3.11-slim
LABEL org.opencontainers.image.title="ingress-reconciler" \
      org.opencontainers.image.description="Ingress fleets, load balancers, Ingress status and DNS, kept converged" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN groupadd --system --gid 10001 reconciler \
    && useradd --system --uid 10001 --gid reconciler --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin reconciler
COPY --from=build /opt/venv /opt/venv
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["ingress-reconciler", "run", "--config", "/etc/ingress-reconciler/config.yaml"]
