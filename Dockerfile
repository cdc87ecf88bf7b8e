# The API and the worker (one image, two commands; see docker-compose.yml). Installs the project as a package, so
# the image holds only what pyproject.toml declares: no tests, no virtualenv, no local data.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone, so code changes do not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY config.py worker.py gc_tuning.py ./
COPY domain ./domain
COPY db ./db
COPY activities ./activities
COPY workflows ./workflows
COPY services ./services
COPY api ./api
RUN pip install --no-deps . \
    && useradd --create-home --uid 10001 smartplans

# Run from a folder without the sources, so the installed package (with alembic.ini and migrations) is what runs.
WORKDIR /home/smartplans
USER smartplans

EXPOSE 8000
CMD ["uvicorn", "api.app:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
