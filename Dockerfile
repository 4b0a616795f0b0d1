# Thread Mirror: multi-stage build, non-root, state on a volume, config mounted, secrets from the environment.
# docker build -t thread-mirror .
# docker run -v tm-data:/data -v $PWD/config.yaml:/config/config.yaml:ro -e WP_APP_PASSWORD=... thread-mirror

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip install --no-cache-dir --prefix=/install .

FROM python:3.11-slim
RUN useradd --system --uid 10001 --home-dir /data --create-home mirror
COPY --from=build /install /usr/local
USER mirror
WORKDIR /data
VOLUME ["/data"]
ENV PYTHONUNBUFFERED=1
ENTRYPOINT ["thread-mirror"]
CMD ["run", "--config", "/config/config.yaml"]
