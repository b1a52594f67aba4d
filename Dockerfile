# syntax=docker/dockerfile:1
# One image for every TSMetrics role: the API (the default command), and
# `tsmetrics migrate`, `tsmetrics consume`, `tsmetrics simulate`, `tsmetrics seed`.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The dependencies get a layer of their own, read from pyproject.toml, so a code
# change does not reinstall them. Extras (`embedded`: a PostgreSQL server for
# demos and tests; `test`) stay out of the image.
COPY pyproject.toml ./
RUN python -c "import tomllib; \
print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
# Editable, so the code finds migrations/, templates/ and static/ beside the
# package, where they are kept (they are not package data).
RUN pip install --no-deps -e . \
    && useradd --system --user-group --uid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin tsmetrics

# Root owns the code; the processes run as an unprivileged user that cannot change it.
USER tsmetrics

# In a container the API listens on every interface (compose publishes the port).
# gunicorn's worker heartbeat files go to RAM: /tmp is on the slow overlay file system.
ENV TSMETRICS_BIND=0.0.0.0:5221 \
    GUNICORN_CMD_ARGS="--worker-tmp-dir /dev/shm"
EXPOSE 5221
CMD ["gunicorn", "wsgi:app", "-c", "gunicorn.conf.py"]
