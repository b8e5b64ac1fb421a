# Two commands matter: `make run` (serve with demo data, and a worker) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
BIND ?= 127.0.0.1:8000
# Plain http on loopback: the browser would drop a Secure cookie. Behind HTTPS leave it true.
RUN_ENV := CHANGETRACKER_SESSION_COOKIE_SECURE=false

.PHONY: run demo test test-sqlite test-postgres install bench bench-postgres bench-record bench-poll bench-ingest bench-bypasses screenshots lint groovy-lint clean

# The service alone for `make run`; the test extras (pytest, playwright, ...) only for the targets that need them.
$(STAMP): setup.cfg pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
		echo "Change Tracker needs Python 3.11 or newer; $(PYTHON) is $$($(PYTHON) --version 2>&1)." \
		     "Name another: make run PYTHON=python3.12" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TEST_STAMP)

install: $(STAMP)

# CodeNarc for the shared library and the Jenkinsfile (tests/jenkins/test_groovy_lint.py): npm-groovy-lint 15,
# pinned by ci/groovy-lint/package-lock.json, installed there when missing. Needs Node.js 20 and npm.
GROOVY_LINT := ci/groovy-lint/node_modules/.installed
$(GROOVY_LINT): ci/groovy-lint/package.json ci/groovy-lint/package-lock.json
	npm ci --prefix ci/groovy-lint --no-audit --no-fund --loglevel=error
	touch $(GROOVY_LINT)

groovy-lint: $(GROOVY_LINT)

# Serve on $(BIND) with a worker beside it (webhook deliveries become events within a second; the schedule runs the
# pollers that are configured). Ctrl-C stops both. The CLI is $(BIN)/changetracker (or `. $(BIN)/activate`).
run: $(STAMP)
	$(BIN)/changetracker init-instance
	$(BIN)/changetracker db upgrade
	$(BIN)/changetracker seed
	@echo "Change Tracker on http://$(BIND) with a worker; Ctrl-C stops both. The CLI: $(BIN)/changetracker"
	$(BIN)/changetracker worker & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
		$(RUN_ENV) $(BIN)/changetracker serve --bind $(BIND) --log-format text

# A poll without a Jenkins: a small fake controller on loopback, polled twice around a change (changetracker demo).
demo: $(STAMP)
	$(BIN)/changetracker demo

# The whole suite on SQLite; with CHANGETRACKER_TEST_DATABASE_URL=postgresql:///postgres on PostgreSQL.
# Spread over one pytest-xdist process per CPU (each has its own databases, ports and browser); much of the
# suite waits on chromium, the JVM and subprocesses. TEST_WORKERS=0 runs it in this process.
TEST_WORKERS ?= auto
test: $(TEST_STAMP) $(GROOVY_LINT)
	$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-postgres: $(TEST_STAMP) $(GROOVY_LINT)
	CHANGETRACKER_TEST_DATABASE_URL=$${CHANGETRACKER_TEST_DATABASE_URL:-postgresql:///postgres} \
		$(BIN)/pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# Performance harness (bench/README.md): 1M events on SQLite, cached under bench/.data/; the ledger's reads
# (bench.ledger), then the pages people wait for (bench.pages); a quick run: make bench BENCH_ARGS="--events 100000".
# bench-postgres measures SQLite and PostgreSQL in one run (a throw-away database on CHANGETRACKER_BENCH_DATABASE_URL's server, dropped afterwards).
# Then the recording rows (bench/record.py, make bench-record) on SQLite and PostgreSQL; every table prints, and
# the status is 1 when any misses a target.
BENCH_DATABASE_URL = $${CHANGETRACKER_BENCH_DATABASE_URL:-postgresql:///postgres}
bench: $(TEST_STAMP)
	$(BIN)/python -m bench.ledger $(BENCH_ARGS); ledger=$$?; \
	$(BIN)/python -m bench.pages $(BENCH_ARGS); pages=$$?; \
	$(BIN)/python -m bench.record --database sqlite --database $(BENCH_DATABASE_URL) $(RECORD_ARGS); \
	record=$$?; exit $$(( ledger || pages || record ))

# The main pages on the 1M-event ledger and the fleet pages on 500 agents × 200 tools, as PNGs in
# test-results/screenshots/1m/ (CI keeps them as artifacts).
screenshots: $(TEST_STAMP)
	$(BIN)/python -m bench.screenshots $(BENCH_ARGS)

bench-postgres: $(TEST_STAMP)
	$(BIN)/python -m bench.ledger --database sqlite --database $(BENCH_DATABASE_URL) $(BENCH_ARGS)

# Recording (issue 16): POST /api/v1/events against a trivial Flask endpoint at 8 and 32 clients, record_event
# in-process and a 100,000-row CSV import, on SQLite and PostgreSQL; e.g. make bench-record
# RECORD_ARGS="--requests 500 --rounds 3 --import-rows 20000" for a quick run.
bench-record: $(TEST_STAMP)
	$(BIN)/python -m bench.record --database sqlite --database $(BENCH_DATABASE_URL) $(RECORD_ARGS)

# Poller benchmark (issue 6): 1,000 agents on a fake Jenkins adding 20 ms per request, SQLite; e.g.
# make bench-poll BENCH_ARGS="--database sqlite --database postgresql:///postgres" for both databases.
bench-poll: $(TEST_STAMP)
	$(BIN)/python -m bench.poll $(BENCH_ARGS)

# Ingestion benchmark (issue 6): webhook acceptance vs a trivial Flask endpoint under the same gunicorn
# settings, and the inbox drain on SQLite; e.g. make bench-ingest BENCH_ARGS="--requests 1000 --rounds 3".
bench-ingest: $(TEST_STAMP)
	$(BIN)/python -m bench.ingest $(BENCH_ARGS)

# The catalogue and fleet pages' server part (issue 12) against bare SQL: the cached 1M ledger (make bench builds it)
# read-only, and a throw-away fleet of 500 agents × 200 tools; e.g. make bench-catalogue BENCH_ARGS="--runs 10".
.PHONY: bench-catalogue
bench-catalogue: $(TEST_STAMP)
	$(BIN)/python -m bench.catalogue_fleet $(BENCH_ARGS)

# Each library bypass (docs/layout.md: "Where we bypass a library") against the library's own path, in-process.
bench-bypasses: $(TEST_STAMP)
	$(BIN)/python -m bench.bypasses $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
