# wangge — two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PG_URL ?= $(WANGGE_TEST_PG_URL)
# pytest-xdist workers: one per core; every worker has its own PostgreSQL database.
WORKERS ?= auto
PYTEST := $(BIN)/pytest -q -n $(WORKERS) --dist loadgroup

.PHONY: demo test test-quick install lint bench i18n clean

$(BIN)/wangge: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $(BIN)/wangge

install: $(BIN)/wangge

demo: install  ## build the demo district (SQLite, var/wangge.db) and serve http://127.0.0.1:8000
	$(BIN)/wangge demo --host 127.0.0.1 --port 8000

test: install  ## the whole suite; PostgreSQL+PostGIS tests run when WANGGE_TEST_PG_URL is set
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	WANGGE_TEST_PG_URL=$(PG_URL) $(PYTEST) --durations=20

test-quick: install  ## the inner loop: unit and API tests on SQLite only
	WANGGE_TEST_PG_URL= $(PYTEST) -m "not postgis and not slow" tests/unit tests/api

lint: install  ## ruff, ruff format, mypy --strict and the import contracts (pyproject.toml), as `make test` runs them
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install  ## reproducible benchmarks; results go to bench/RESULTS.md
	$(BIN)/python bench/bench_locate.py
	$(BIN)/python bench/bench_partition.py
	$(BIN)/python bench/bench_layouts.py
	$(BIN)/python bench/bench_map.py
	$(BIN)/python bench/bench_divide_cli.py

i18n: install  ## extract the page texts to translate into src/wangge/web/locale/messages.pot
	$(BIN)/pybabel extract -F babel.cfg -k t -k N_ --sort-by-file --width 100 \
	  -o src/wangge/web/locale/messages.pot .

clean:
	rm -rf $(VENV) var .pytest_cache
