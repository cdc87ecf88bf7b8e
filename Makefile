# Every target works on a fresh clone with nothing but Python 3.11: the virtualenv is created on first use and
# reinstalled whenever pyproject.toml changes (the stamp file records the last install).

VENV ?= .venv
PY = $(VENV)/bin/python
STAMP = $(VENV)/.installed

.PHONY: test test-postgres lint bench bench-scale migrate dev

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest

test-postgres: $(STAMP)
	TEST_DATABASE=postgresql $(PY) -m pytest

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy .

bench: $(STAMP)
	$(PY) -m bench.schedule
	$(PY) -m bench.steps
	$(PY) -m bench.year_plan
	$(PY) -m bench.leads
	$(PY) -m bench.load --clients 50 --seconds 60
	$(PY) -m bench.burst
	$(PY) -m bench.enroll

# 100,000 sleeping enrollments on PostgreSQL (127.0.0.1:5432) and the dev server: long, so not part of `make bench`.
bench-scale: $(STAMP)
	$(PY) -m bench.scale

migrate: $(STAMP)
	$(PY) -m db.migrate

# Temporal dev server (with UI), worker and API on SQLite under .data/, plus a demo team; Ctrl-C stops it all.
dev: $(STAMP)
	$(PY) -m scripts.dev
