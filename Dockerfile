FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CHANGETRACKER_INSTANCE_PATH=/var/lib/changetracker
WORKDIR /srv/changetracker

COPY pyproject.toml setup.cfg README.md ./
COPY app ./app
COPY templates ./templates
COPY static ./static
RUN pip install --no-cache-dir -e . \
    && useradd --system --home /var/lib/changetracker changetracker \
    && mkdir -p /var/lib/changetracker && chown changetracker /var/lib/changetracker

USER changetracker
EXPOSE 8000
# Needs CHANGETRACKER_SECRET_KEY and CHANGETRACKER_DATABASE_URL; run `changetracker db upgrade` once per release.
# `changetracker serve` runs gunicorn with the redacting access log and /metrics' multiprocess folder.
CMD ["changetracker", "serve", "--bind", "0.0.0.0:8000", "--workers", "3", "--threads", "4"]
