# syntax=docker/dockerfile:1
# Build stage: install roadmap-bot and its dependencies into a virtual environment.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
COPY catalog ./catalog
RUN pip install . && roadmap-bot catalog check

# Runtime stage: only the virtual environment, run as an unprivileged user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 roadmap \
    && mkdir /data && chown roadmap:roadmap /data
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ROADMAP_DB=/data/roadmap-bot.db
USER roadmap
WORKDIR /data
# The SQLite database (progress, subscriptions, delivery ledger) lives here.
VOLUME ["/data"]
# Slack's HTTP endpoint (ROADMAP_HTTP_PORT) when Slack runs in HTTP mode.
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=10s --start-period=15s --retries=3 \
    CMD ["roadmap-bot", "health"]
ENTRYPOINT ["roadmap-bot"]
CMD ["serve"]
