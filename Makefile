# Every target works on a fresh clone with nothing but Python 3.11: the virtualenv is created on first use and
# reinstalled whenever pyproject.toml changes (the stamp file records the last install).

VENV ?= .venv
PY = $(VENV)/bin/python
STAMP = $(VENV)/.installed

.PHONY: test test-postgres lint bench migrate

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

migrate: $(STAMP)
	$(PY) -m db.migrate
