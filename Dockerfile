FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CHANGETRACKER_INSTANCE_PATH=/var/lib/changetracker
WORKDIR /srv/changetracker

# pg_dump for `changetracker backup` on PostgreSQL (the compose file's backup service).
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

COPY pyproject.toml setup.cfg README.md ./
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir -e . \
    && useradd --system --home /var/lib/changetracker changetracker \
    && mkdir -p /var/lib/changetracker && chown changetracker /var/lib/changetracker

USER changetracker
EXPOSE 8000
# Liveness of the web service (the worker and one-shot commands of this image have no /healthz: docker-compose.yml
# turns the probe off for them).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "app.http.probe", "http://127.0.0.1:8000/healthz"]
# Needs CHANGETRACKER_SECRET_KEY and CHANGETRACKER_DATABASE_URL; run `changetracker db upgrade` once per release
# (docker-compose.yml does, in its migrate service, before the others start).
# `changetracker serve` runs gunicorn with the JSON request log and /metrics' multiprocess folder.
CMD ["changetracker", "serve", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
