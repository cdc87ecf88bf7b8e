# Every target works on a fresh clone with nothing but Python 3.11: the virtualenv is created on first use and
# reinstalled whenever pyproject.toml changes (the stamp file records the last install).

VENV ?= .venv
PY = $(VENV)/bin/python
STAMP = $(VENV)/.installed

.PHONY: test test-postgres lint bench migrate dev

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
	$(PY) -m bench.year_plan
	$(PY) -m bench.leads
	$(PY) -m bench.enroll

migrate: $(STAMP)
	$(PY) -m db.migrate

# Temporal dev server (with UI), worker and API on SQLite under .data/, plus a demo team; Ctrl-C stops it all.
dev: $(STAMP)
	$(PY) -m scripts.dev
