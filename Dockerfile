# syntax=docker/dockerfile:1
# Build: a wheel of the project and its dependencies, in a throwaway stage with a compiler.
FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY knowledge ./knowledge
COPY directory ./directory
COPY jobs ./jobs
COPY migrations ./migrations
RUN python -m venv /opt/minzheng \
 && /opt/minzheng/bin/pip install .

# Run: only the virtual environment, as an unprivileged user.
FROM python:3.11-slim-bookworm
ENV PATH=/opt/minzheng/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MINZHENG_HTTP_HOST=0.0.0.0 \
    MINZHENG_HTTP_PORT=8080 \
    MINZHENG_VAR_DIR=/app/var \
    MINZHENG_DATABASE_URL=sqlite+aiosqlite:////app/var/minzheng.db \
    MINZHENG_LOG_FORMAT=json
RUN groupadd --system --gid 10001 minzheng \
 && useradd --system --uid 10001 --gid minzheng --home-dir /app --create-home minzheng \
 && mkdir -p /app/var && chown minzheng:minzheng /app/var
COPY --from=build /opt/minzheng /opt/minzheng
WORKDIR /app
USER minzheng
VOLUME ["/app/var"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
CMD ["minzheng", "serve"]
