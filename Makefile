# Two commands matter: `make run` (serve with demo data) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BIND ?= 127.0.0.1:8000
# Plain http on loopback: the browser would drop a Secure cookie. Behind HTTPS leave it true.
RUN_ENV := CHANGETRACKER_SESSION_COOKIE_SECURE=false

.PHONY: run test test-sqlite test-postgres install bench lint clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/changetracker init-instance
	$(BIN)/changetracker db upgrade
	$(BIN)/changetracker seed
	@echo "Change Tracker on http://$(BIND)  (Ctrl-C to stop)"
	$(RUN_ENV) $(BIN)/changetracker serve --bind $(BIND)

# The whole suite on SQLite; with CHANGETRACKER_TEST_DATABASE_URL=postgresql:///postgres on PostgreSQL.
test: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

test-postgres: $(STAMP)
	CHANGETRACKER_TEST_DATABASE_URL=$${CHANGETRACKER_TEST_DATABASE_URL:-postgresql:///postgres} $(BIN)/pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
