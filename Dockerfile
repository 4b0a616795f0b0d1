# Thread Mirror: multi-stage build, non-root, state on a volume, config mounted, secrets from the environment.
#
#   docker build -t thread-mirror .
#   docker run -d --name thread-mirror --restart unless-stopped \
#     -v thread-mirror-data:/data -v "$PWD/config.yaml:/config/config.yaml:ro" \
#     -e WP_APP_PASSWORD -e WP_PUSH_SECRET -e MATRIX_TOKEN \
#     -p 127.0.0.1:8787:8787 thread-mirror
#
# The config must have an `http:` section (the health check asks /healthz); `host: 0.0.0.0` there
# makes the published port reachable from the host. Keep `store.path` under /data.
# docs/deploy.md: Docker, systemd, and a reverse proxy for the push webhook.

FROM python:3.11.13-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN python -m venv /opt/thread-mirror \
    && /opt/thread-mirror/bin/pip install --no-cache-dir .

FROM python:3.11.13-slim-bookworm
RUN groupadd --system --gid 10001 mirror \
    && useradd --system --uid 10001 --gid mirror --home-dir /data --create-home --shell /usr/sbin/nologin mirror
COPY --from=build /opt/thread-mirror /opt/thread-mirror
ENV PATH=/opt/thread-mirror/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HEALTHCHECK_URL=http://127.0.0.1:8787/healthz
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8787
# No curl in the slim image: Python asks /healthz (a 503 raises, so the check fails).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['HEALTHCHECK_URL'], timeout=4)"]
ENTRYPOINT ["thread-mirror"]
CMD ["run", "--config", "/config/config.yaml"]
